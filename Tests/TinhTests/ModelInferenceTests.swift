import Foundation
import Testing
@testable import Tinh

@Suite struct ModelInferenceTests {
    /// The largest difference of a logits row relative to the reference row's largest logit.
    static func relDiff(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<n { num = max(num, abs(Double(a[i]) - Double(b[i]))); den = max(den, abs(Double(b[i]))) }
        return num / max(den, 1e-30)
    }

    @Test(arguments: [2, 4]) func kvCacheDecodeMatchesFullForward(kvHeads: Int) throws {
        let c = ModelFixture.config(kvHeads: kvHeads)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let batch = 2, seq = 40   // > attention's 32-row block
        let (tokens, _, _) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let full = try model.logits(tokens: tokens, batch: batch, seq: seq)
        let cache = try model.makeKVCache(batch: batch, maxTokens: 64)
        // Prefill 35 tokens per sequence (all positions' logits), then one token at a time.
        let prefill = 35
        let pre = (0..<batch).flatMap { b in tokens[(b * seq)..<(b * seq + prefill)] }
        let preLogits = try model.decode(tokens: pre, cache: cache, allPositions: true)
        let v = c.vocabSize
        // Decoding runs other row counts (one row per sequence: matrix-vector products) than the
        // full forward, so the sums differ in order: within RoundingBound.forwardEstimate.
        let tolerance = RoundingBound.forwardEstimate(c)
        for b in 0..<batch { for t in 0..<prefill {
            #expect(Self.relDiff(preLogits.data + (b * prefill + t) * v, full.data + (b * seq + t) * v, v) <= tolerance)
        } }
        for t in prefill..<seq {
            let step = try model.decode(tokens: (0..<batch).map { tokens[$0 * seq + t] }, cache: cache)
            #expect(step.shape == [batch, v])
            for b in 0..<batch {
                #expect(Self.relDiff(step.data + b * v, full.data + (b * seq + t) * v, v) <= tolerance)
            }
        }
        #expect(cache.count == seq)
        #expect(throws: TinhError.self) { try model.decode(tokens: [Int32](repeating: 1, count: batch * 30), cache: cache) }
        cache.reset()
        let again = try model.decode(tokens: pre, cache: cache, allPositions: true)
        #expect(again.array == preLogits.array)
    }

    /// The training forward computes logits only where the loss counts; its loss must equal the
    /// cross-entropy of the full logits over those positions.
    @Test(arguments: [true, false]) func maskedHeadLossEqualsFullLogitsLoss(tied: Bool) throws {
        let c = ModelFixture.config(tied: tied)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let batch = 3, seq = 9
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let full = try model.logits(tokens: tokens, batch: batch, seq: seq)
        var ref = 0.0, count = 0, correct = 0
        for i in 0..<(batch * seq) where mask[i] && targets[i] >= 0 {
            let row = (0..<c.vocabSize).map { Double(full[i * c.vocabSize + $0]) }
            let m = row.max()!
            ref += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[Int(targets[i])]
            count += 1
            if row.firstIndex(of: m)! == Int(targets[i]) { correct += 1 }
        }
        let r = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq, accuracy: true)
        #expect(r.count == count && count == batch * (seq - 2))   // the ignored target sits in the masked prompt
        // The masked head runs its GEMM over fewer rows, so each logit may differ by `bound`; each
        // row's cross-entropy (log-sum-exp minus the target logit) then by 2·bound, and by its own
        // float32 rounding over V terms on each side (γ_V relative to |logits| + log V).
        let bound = RoundingBound.headLogit(model)
        let counted = (0..<(batch * seq)).filter { mask[$0] && targets[$0] >= 0 }
        let maxLogit = full.array.map { Double(abs($0)) }.max() ?? 0
        let perRow = 2 * bound + 2 * RoundingBound.gamma(c.vocabSize + 2) * (maxLogit + log(Double(c.vocabSize)))
        #expect(abs(r.loss - ref) <= Double(count) * perRow, "loss \(r.loss) vs \(ref), bound \(Double(count) * perRow)")
        let ties = RoundingBound.nearTies(full.array, vocab: c.vocabSize, rows: counted, bound: bound)
        #expect(abs(r.correct - correct) <= ties, "accuracy counts \(r.correct) vs \(correct) with \(ties) near-tied rows")
        // No mask: every position with a target counts.
        let all = try model.forward(tokens: tokens, targets: targets, batch: batch, seq: seq)
        #expect(all.count == batch * seq - 1)
    }

    @Test func tinyIsDeterministicPerSeed() throws {
        #expect(try TinyLlama.seed(fromSpec: "tiny") == 0)
        #expect(try TinyLlama.seed(fromSpec: "tiny:42") == 42)
        #expect(try TinyLlama.seed(fromSpec: "smollm2") == nil)
        #expect(throws: TinhError.self) { try TinyLlama.seed(fromSpec: "tiny:x") }
        let tokens: [Int32] = [1, 7, 300, 511, 0]
        let a = try TinyLlama.model(seed: 3).logits(tokens: tokens)
        let b = try TinyLlama.model(seed: 3).logits(tokens: tokens)
        let c = try TinyLlama.model(seed: 4).logits(tokens: tokens)
        #expect(a.shape == [5, 512])
        #expect(a.array == b.array && a.array != c.array)
        #expect(a.array.allSatisfy { $0.isFinite })
    }

    @Test func seededGeneratorStateRoundTrips() throws {
        var g = SeededGenerator(seed: 9)
        _ = (0..<5).map { _ in g.next() }
        var h = try SeededGenerator(state: g.state)
        #expect((0..<10).map { _ in g.next() } == (0..<10).map { _ in h.next() })
        let data = try JSONEncoder().encode(g)
        var k = try JSONDecoder().decode(SeededGenerator.self, from: data)
        #expect(g.next() == k.next())
        #expect(throws: TinhError.self) { try SeededGenerator(state: [0, 0, 0, 0]) }
    }

    @Test func badWeightsAndInputsAreErrors() throws {
        let c = TinyLlama.config
        var w = TinyLlama.weights(config: c, seed: 1)
        w["model.layers.1.mlp.up_proj.weight"] = nil
        #expect(throws: TinhError.invalidInput("model weights: missing tensor 'model.layers.1.mlp.up_proj.weight' (expected shape [128, 64])")) {
            try DecoderModel(config: c, weights: w)
        }
        w = TinyLlama.weights(config: c, seed: 1)
        w["model.layers.0.self_attn.k_proj.weight"] = Tensor(shape: [64, 64])
        #expect(throws: TinhError.invalidInput("model weights: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 64], expected [32, 64]")) {
            try DecoderModel(config: c, weights: w)
        }
        var untied = c
        untied.tieWordEmbeddings = false
        #expect(throws: TinhError.self) { try DecoderModel(config: untied, weights: TinyLlama.weights(config: c, seed: 1)) }
        var bad = c
        bad.numKVHeads = 3
        #expect(throws: TinhError.self) { try DecoderModel(config: bad, weights: TinyLlama.weights(config: c, seed: 1)) }

        let model = try TinyLlama.model()
        #expect(throws: TinhError.self) { try model.logits(tokens: [1, 512]) }
        #expect(throws: TinhError.self) { try model.logits(tokens: [1, -1]) }
        #expect(throws: TinhError.self) { try model.logits(tokens: [1, 2, 3], batch: 2, seq: 2) }
        #expect(throws: TinhError.self) { try model.logits(tokens: [Int32](repeating: 1, count: 1025)) }
        #expect(throws: TinhError.self) { try model.forward(tokens: [1, 2], targets: [1, 999], batch: 1, seq: 2) }
        #expect(throws: TinhError.self) { try model.forward(tokens: [1, 2], targets: [1], batch: 1, seq: 2) }
        #expect(throws: TinhError.self) { try model.forward(tokens: [1, 2], targets: [1, 2], lossMask: [true], batch: 1, seq: 2) }
        #expect(throws: TinhError.self) { try model.makeKVCache(maxTokens: 5000) }
    }

    /// A batch where nothing counts is not an error at this level: loss 0, count 0, zero gradients.
    @Test func fullyMaskedBatchGivesZeroLossAndGradient() throws {
        let model = try TinyLlama.model()
        let r = try model.forward(tokens: [1, 2, 3], targets: [2, 3, 4], lossMask: [false, false, false], batch: 1, seq: 3)
        #expect(r == LossResult(loss: 0, count: 0, correct: 0))
        model.backward(lossScale: 1)
        #expect(model.inputEmbeddingGrad.allSatisfy { $0 == 0 })
    }
}
