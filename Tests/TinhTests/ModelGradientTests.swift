import Foundation
import Testing
@testable import Tinh

/// End-to-end gradient checks on tiny-sized models: loss (summed cross-entropy over counted
/// positions) w.r.t. the input embeddings and w.r.t. a sample of entries of every kind of weight.
@Suite struct ModelGradientTests {
    let batch = 2, seq = 7
    /// The summed loss (≈ 60 over 14 rows) carries Float32 rounding per evaluation: each row's
    /// cross-entropy (≈ 4.3, ulp 4.8e-7) is rounded once at the end, and those random-sign roundings
    /// add to ≈ √14·u·4.3 ≈ 1e-6 (u = 2⁻²⁴); the logits' own rounding is correlated between the
    /// stencil's four nearby evaluations and largely cancels in the difference. These checks allow
    /// for it through `lossNoise`, which only sets the absolute floor 6·lossNoise/h of each entry.
    /// Weights take h = 0.02 (some entries are sharply curved: h = 0.04 already shows truncation);
    /// inputs (and embedding rows, std 0.2) feed RMSNorm at a small scale, where the loss is more
    /// curved still, so they take h = 0.005.
    static let lossNoise = 1e-6
    let checker = GradCheck(eps: 2e-2, tol: 1e-2, floorFraction: 2e-2, lossNoise: lossNoise)
    let inputChecker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: 100, lossNoise: lossNoise)

    static let variants: [(tied: Bool, kvHeads: Int, bias: Bool)] = [
        (true, 2, false),    // tiny: tied head, GQA 4 heads / 2 KV heads
        (false, 4, true),    // untied head, plain multi-head, q/k/v biases
    ]

    /// Each check runs on every frozen-GEMM library this build and CPU have.
    @Test(arguments: variants, FrozenGEMM.usable)
    func lossGradientWrtInputEmbeddings(variant: (tied: Bool, kvHeads: Int, bias: Bool), gemm: FrozenGEMM) throws {
        let c = ModelFixture.config(tied: variant.tied, kvHeads: variant.kvHeads, bias: variant.bias)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c), gemm: gemm)
        Self.checkInputGradient(model, batch: batch, seq: seq, checker: inputChecker, "d loss / d input embeddings")
    }

    /// dL/dW for every tensor in `names` against finite differences at `samples` random entries each
    /// (plus, for the embedding table, entries in rows of tokens in the batch: the input path as well
    /// as the head path when tied), on a ModelFixture batch. Returns the gradients after that backward.
    @discardableResult
    static func checkWeightGradients(_ model: DecoderModel, weights: [String: Tensor], names: [String], batch: Int, seq: Int,
                                     samples: Int, checker: GradCheck, embeddingChecker: GradCheck, label: String = "") throws -> [String: Tensor] {
        let c = model.config
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        for n in names { try model.requestGradient(for: n) }
        func loss() -> Double { try! model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq).loss }
        _ = loss()
        model.backward(lossScale: 1)
        let grads = model.requestedGradients
        #expect(Set(grads.keys) == Set(names))
        var d = TestData(seed: 30)
        for name in names {
            let w = try #require(weights[name]), g = try #require(grads[name]).array
            var idx = d.sample(samples, of: w.count)
            let embedding = name == "model.embed_tokens.weight"
            if embedding { idx += tokens.prefix(4).map { Int($0) * c.hiddenSize + d.int(c.hiddenSize) } }
            (embedding ? embeddingChecker : checker).check(label + name, param: w.data, analytic: g, indices: idx, loss: loss)
        }
        return grads
    }

    /// dL/d(input embeddings) against finite differences, on a ModelFixture batch. Every position
    /// before the last counted one gets gradient; masked/ignored positions still do (through attention).
    static func checkInputGradient(_ model: DecoderModel, batch: Int, seq: Int, checker: GradCheck, _ what: String) {
        let c = model.config
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let emb = Tensor(shape: [batch * seq, c.hiddenSize])
        Embedding.forward(out: emb.data, tokens: tokens, table: model.embedTokens.data, rows: tokens.count, dim: c.hiddenSize)
        func loss() -> Double {
            try! model.forward(inputEmbeddings: UnsafeBufferPointer(emb.buffer), targets: targets, lossMask: mask,
                               batch: batch, seq: seq).loss
        }
        _ = loss()
        model.backward(lossScale: 1)
        checker.check(what, param: emb.data, analytic: Array(model.inputEmbeddingGrad), loss: loss)
    }

    @Test(arguments: variants, FrozenGEMM.usable)
    func lossGradientWrtWeights(variant: (tied: Bool, kvHeads: Int, bias: Bool), gemm: FrozenGEMM) throws {
        let (tied, bias) = (variant.tied, variant.bias)
        let c = ModelFixture.config(tied: tied, kvHeads: variant.kvHeads, bias: bias)
        let weights = ModelFixture.weights(c)
        let model = try DecoderModel(config: c, weights: weights, gemm: gemm)
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        var names = ["model.embed_tokens.weight", "model.norm.weight"]
        for i in 0..<c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            names += ["input_layernorm", "post_attention_layernorm"].map { p + $0 + ".weight" }
            names += ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                      "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"].map { p + $0 + ".weight" }
            if bias { names += ["q", "k", "v"].map { p + "self_attn.\($0)_proj.bias" } }
        }
        if !tied { names.append("lm_head.weight") }
        let grads = try Self.checkWeightGradients(model, weights: weights, names: names, batch: batch, seq: seq, samples: 12,
                                                  checker: checker, embeddingChecker: inputChecker)
        func loss() -> Double { try! model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq).loss }
        // Gradients accumulate across backward calls until zeroed.
        let before = grads["model.norm.weight"]!.array
        _ = loss(); model.backward(lossScale: 1)
        #expect(zip(model.requestedGradients["model.norm.weight"]!.array, before).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
        model.zeroGradients()
        #expect(model.requestedGradients.values.allSatisfy { $0.array.allSatisfy { $0 == 0 } })
    }

    @Test func unknownGradientNameIsAnError() throws {
        let model = try TinyLlama.model()
        #expect(throws: TinhError.self) { try model.requestGradient(for: "model.layers.9.mlp.up_proj.weight") }
    }

    /// Adapters on several projections (whose inputs backward recomputes: norm outputs, silu(gate)·up)
    /// see the right input in backward and get the right gradients.
    @Test func adaptersInsideModelGetGradients() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        var d = TestData(seed: 31)
        let targets = [model.blocks[1].projection("q_proj")!, model.blocks[0].projection("v_proj")!, model.blocks[0].projection("gate_proj")!, model.blocks[1].projection("up_proj")!, model.blocks[0].down]
        let adapters = targets.map { lin in
            let a = ScaledMatrixAdapter(m: d.tensor([lin.outFeatures, lin.inFeatures], std: 0.2), s: 0.5)
            lin.adapter = a
            return a
        }
        let (tokens, targets_, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        func loss() -> Double { try! model.forward(tokens: tokens, targets: targets_, lossMask: mask, batch: batch, seq: seq).loss }
        _ = loss()
        model.backward(lossScale: 1)
        #expect(adapters.allSatisfy { $0.forwardCalls == 1 && $0.backwardCalls == 1 })
        for (lin, adapter) in zip(targets, adapters) {
            checker.check("adapter on \(lin.name)", param: adapter.m.data, analytic: adapter.dm.array,
                          indices: d.sample(12, of: adapter.m.count), loss: loss)
        }
    }

}
