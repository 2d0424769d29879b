import Foundation
import Testing
@testable import Tinh

/// The chunked loss path (head, cross-entropy, its backward and the head's dX per chunk of loss
/// rows) against the unfused one (all logits first, backward later), on the same model and batch.
@Suite(.serialized) struct ModelFusedHeadTests {
    struct Pass {
        var loss: Double; var count: Int; var correct: Int; var dInput: [Float]; var adapterGrads: [Float]
        /// For the bounds: the full logits, the rows in the loss, and how far one head logit may move (`RoundingBound.headLogit`).
        var logits: [Float]; var rows: [Int]; var logitBound: Double; var vocab: Int
    }

    func pass(chunkRows: Int, lossScale: Float) throws -> Pass {
        let c = ModelFixture.config(tied: true, kvHeads: 2, bias: false)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        model.headChunkRows = chunkRows
        let adapters = try AdapterSet(model: model, config: AdapterConfig(method: .lora, rank: 2, targets: ["q", "v"]))
        // B starts at zero; give it values so the adapters' gradients depend on the loss path.
        var rng = SeededGenerator(seed: 9)
        rng.fillUniform(adapters.parameters.values.data, count: adapters.parameters.count, lo: -0.1, hi: 0.1)
        adapters.parameters.grads.zero()
        let (batch, seq) = (2, 7)
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let r = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq, accuracy: true)
        #expect(model.headFused == (chunkRows > 0))
        model.backward(lossScale: lossScale)
        let dInput = Array(model.inputEmbeddingGrad)
        let grads = Array(UnsafeBufferPointer(start: adapters.parameters.grads.data, count: adapters.parameters.count))
        let logits = try model.logits(tokens: tokens, batch: batch, seq: seq).array
        return Pass(loss: r.loss, count: r.count, correct: r.correct, dInput: dInput, adapterGrads: grads, logits: logits,
                    rows: (0..<(batch * seq)).filter { mask[$0] && targets[$0] >= 0 }, logitBound: RoundingBound.headLogit(model),
                    vocab: c.vocabSize)
    }

    @Test(arguments: [1, 3, 5, 100]) func chunkedLossPathMatchesUnfused(chunkRows: Int) throws {
        let fused = try pass(chunkRows: chunkRows, lossScale: 0.37)
        let reference = try pass(chunkRows: 0, lossScale: 0.37)
        #expect(fused.count == reference.count && fused.count > 0)
        // Each chunk is its own GEMM, so each logit may round differently, by at most `logitBound`;
        // a row's cross-entropy then moves by 2·logitBound plus each side's own rounding over V
        // terms, and an argmax can flip only where the two best logits are that close.
        let b = reference.logitBound
        let maxLogit = reference.logits.map { Double(abs($0)) }.max() ?? 0
        let perRow = 2 * b + 2 * RoundingBound.gamma(reference.vocab + 2) * (maxLogit + log(Double(reference.vocab)))
        #expect(abs(fused.loss - reference.loss) <= Double(reference.count) * perRow)
        let ties = RoundingBound.nearTies(reference.logits, vocab: reference.vocab, rows: reference.rows, bound: b)
        #expect(abs(fused.correct - reference.correct) <= ties, "\(fused.correct) vs \(reference.correct) correct, \(ties) near ties")
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            let scale = b.map { abs($0) }.max() ?? 0
            #expect(scale > 0, "\(what) is all zero")
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            // The same backward on logits that differ by ≤ logitBound (relative ≈ γ_64·√64 ≈ 3e-5 of
            // |h|·|w| in the worst case, ~√64·u ≈ 5e-7 for random-sign rounding): 1e-5 of the largest
            // gradient is 20× the random-sign estimate and below the worst case.
            #expect(worst <= 1e-5 * scale, "\(what): largest difference \(worst) against a largest value \(scale)")
        }
        close(fused.dInput, reference.dInput, "dL/d(input embeddings)")
        close(fused.adapterGrads, reference.adapterGrads, "adapter gradients")
    }

    /// Evaluation (no backward) takes the same loss and skips the backward work; a backward after it is refused.
    @Test func forwardForEvaluationGivesTheSameLoss() throws {
        let model = try ModelSource.load("tiny:3").model
        let (tokens, targets, mask) = ModelFixture.batch(2, 9, vocab: model.config.vocabSize)
        let train = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: 9)
        let eval = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: 9, forBackward: false)
        #expect(train == eval)
        #expect(!model.readyForBackward)
    }
}
