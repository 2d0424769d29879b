import Foundation
import Testing
@testable import Tinh

/// A varlen micro-batch (`VarlenBatch`: examples back to back in one row, no pad) against the
/// same examples trained one at a time: the summed loss, every adapter gradient and the input
/// gradients agree. The two differ only in summation order (GEMMs over other row counts, the
/// weight gradients' sum over tokens grouped per example), so the bound is the suite's
/// order-only estimate (`RoundingBound.forwardEstimate`) carried through backward.
@Suite struct ModelPackedStepTests {
    /// Examples of 8, 21, 34 and 2 tokens: the third crosses a 32-row attention block; the last has one input.
    static func examples(vocab: Int) -> [TokenizedExample] {
        var d = TestData(seed: 41)
        return [8, 21, 34, 2].map { n in
            TokenizedExample(ids: (0..<n).map { _ in Int32(d.int(vocab)) }, lossMask: (0..<n).map { $0 >= n / 3 || n == 2 })
        }
    }

    /// Sequential errors of a backward: the forward's 2L + 1 GEMM stages again, plus the sum over
    /// tokens inside each weight gradient; they add as √(stages) like the forward's (see forwardEstimate).
    static func backwardEstimate(_ c: DecoderConfig) -> Double { RoundingBound.forwardEstimate(c) * 2.0.squareRoot() * 2 }

    @Test(arguments: [false, true]) func packedStepEqualsUnpackedSingleExampleSteps(recompute: Bool) throws {
        let (model, set) = try ModelVarlenTests.adapted()
        model.setRecomputesBlocks(recompute)
        let c = model.config
        let examples = Self.examples(vocab: c.vocabSize)

        // One example at a time: a padless row of its own n − 1 inputs; gradients accumulate.
        set.parameters.grads.zero()
        var singleLoss = 0.0, singleCount = 0
        var singleInputGrads: [Float] = []
        for i in examples.indices {
            let b = try TrainingBatch(examples: examples, indices: [i], seq: examples[i].count - 1, padId: 0)
            let r = try model.forward(tokens: b.tokens, targets: b.targets, batch: 1, seq: b.seq)
            singleLoss += r.loss; singleCount += r.count
            model.backward(lossScale: 1)
            singleInputGrads += Array(model.inputEmbeddingGrad)
        }
        let singleGrads = set.parameters.grads.array

        let packed = try VarlenBatch(examples: examples, indices: Array(examples.indices))
        #expect(packed.count == examples.reduce(0) { $0 + $1.count - 1 })
        #expect(packed.segments.starts == [[0, 7, 27, 60]])
        set.parameters.grads.zero()
        let r = try model.forward(tokens: packed.tokens, targets: packed.targets, batch: 1, seq: packed.count, segments: packed.segments)
        model.backward(lossScale: 1)
        let packedGrads = set.parameters.grads.array
        let packedInputGrads = Array(model.inputEmbeddingGrad)

        #expect(r.count == singleCount && r.count == packed.lossTokens)
        // The loss is a sum of −log p over tokens: each moves by at most twice its logits' error.
        let maxLogit = Double(try model.logits(tokens: packed.tokens).array.map(abs).max() ?? 1)
        let lossBound = 2 * RoundingBound.forwardEstimate(c) * maxLogit * Double(r.count) + RoundingBound.gamma(r.count) * abs(singleLoss)
        #expect(abs(r.loss - singleLoss) <= lossBound, "loss \(r.loss) vs \(singleLoss), bound \(lossBound)")

        let bound = Self.backwardEstimate(c)
        for slot in set.parameters.slots {
            let a = packedGrads[slot.offset..<(slot.offset + slot.count)], b = singleGrads[slot.offset..<(slot.offset + slot.count)]
            let scale = Double(b.map(abs).max() ?? 0)
            let worst = Double(zip(a, b).map { abs($0 - $1) }.max() ?? 0)
            #expect(scale > 0, "\(slot.name) has no gradient")
            #expect(worst <= bound * scale, "\(slot.name): \(worst) vs scale \(scale), bound \(bound)")
        }
        #expect(packedInputGrads.count == singleInputGrads.count)
        let inScale = Double(singleInputGrads.map(abs).max() ?? 0)
        let inWorst = Double(zip(packedInputGrads, singleInputGrads).map { abs($0 - $1) }.max() ?? 0)
        #expect(inWorst <= bound * inScale, "input gradients: \(inWorst) vs \(inScale)")
    }
}
