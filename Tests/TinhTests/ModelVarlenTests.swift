import Foundation
import Testing
@testable import Tinh

/// Packed examples through the whole model (tiny with LoRA on every projection): the segmented
/// forward's adapter gradients against finite differences, and isolation: an example's loss and
/// gradients do not depend on the other examples packed with it.
@Suite struct ModelVarlenTests {
    // Row 0: examples of 5, 1, 27 and 7 tokens (a boundary crosses the 32-row attention block);
    // row 1: 20 and 20.
    static let seq = 40
    static let segments = AttentionSegments(starts: [[0, 5, 6, 33], [0, 20]], seq: seq)

    static func adapted() throws -> (DecoderModel, AdapterSet) {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .lora, rank: 3, alpha: 6,
                                                                     targets: AdapterConfig.targetOrder, seed: 9))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        return (model, set)
    }

    /// Tokens and next-token targets that stay inside each example (its last token has none).
    static func batch(seed: UInt64, vocab: Int) -> (tokens: [Int32], targets: [Int32]) {
        var d = TestData(seed: seed)
        let tokens = (0..<(2 * seq)).map { _ in Int32(d.int(vocab)) }
        var targets = [Int32](repeating: CrossEntropy.ignoreIndex, count: tokens.count)
        for b in 0..<2 { for r in segments.ranges(row: b) { for t in r.dropLast() { targets[b * seq + t] = tokens[b * seq + t + 1] } } }
        return (tokens, targets)
    }

    @Test func adapterGradientsMatchFiniteDifferences() throws {
        let (model, set) = try Self.adapted()
        let (tokens, targets) = Self.batch(seed: 5, vocab: model.config.vocabSize)
        func loss() -> Double {
            try! model.forward(tokens: tokens, targets: targets, batch: 2, seq: Self.seq, segments: Self.segments).loss
        }
        _ = loss()
        set.parameters.grads.zero()
        model.backward(lossScale: 1)
        let grads = set.parameters.grads.array
        // As AdapterGradientChecks: h = 0.005, the loss's own rounding as the absolute floor.
        let checker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: 12, lossNoise: ModelGradientTests.lossNoise)
        var d = TestData(seed: 4)
        for slot in set.parameters.slots {
            checker.check(slot.name, param: set.parameters.values.data, analytic: grads,
                          indices: d.sample(4, of: slot.count).map { slot.offset + $0 }, loss: loss)
        }
    }

    /// Counting only one example's positions, new tokens in every other example change neither the
    /// loss nor any adapter gradient, bit for bit: its rows see only its own keys (the others'
    /// probabilities are exactly 0, their products exact zeros in the sums), every other kernel is
    /// row by row over the same shapes, and the others' rows carry exactly zero gradient. Also
    /// with gradient checkpointing (the recomputed forward gets the same segments).
    @Test(arguments: [false, true]) func examplesAreIsolated(recompute: Bool) throws {
        let (model, set) = try Self.adapted()
        model.setRecomputesBlocks(recompute)
        let vocab = model.config.vocabSize
        let (tokens, targets) = Self.batch(seed: 5, vocab: vocab)
        let (other, _) = Self.batch(seed: 6, vocab: vocab)
        for (b, kept) in [(0, 6..<33), (1, 20..<40), (0, 5..<6)] {
            let inKept = { (i: Int) in i / Self.seq == b && kept.contains(i % Self.seq) }
            let mask = (0..<tokens.count).map(inKept)
            func run(_ tokens: [Int32]) throws -> (Double, [Float]) {
                set.parameters.grads.zero()
                let l = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: Self.seq,
                                          segments: Self.segments).loss
                model.backward(lossScale: 1)
                return (l, set.parameters.grads.array)
            }
            let mixed = (0..<tokens.count).map { inKept($0) ? tokens[$0] : other[$0] }
            let (l0, g0) = try run(tokens), (l1, g1) = try run(mixed)
            #expect(l0 == l1, "example \(kept) of row \(b)")
            #expect(g0 == g1, "example \(kept) of row \(b)")
            if kept.count > 1 { #expect(g0.contains { $0 != 0 }) }
        }
    }

    @Test func segmentsMustCoverTheBatch() throws {
        let (model, _) = try Self.adapted()
        let (tokens, targets) = Self.batch(seed: 5, vocab: model.config.vocabSize)
        #expect(throws: TinhError.self) {
            try model.forward(tokens: tokens, targets: targets, batch: 2, seq: Self.seq,
                              segments: AttentionSegments(starts: [[0, 5]], seq: Self.seq))
        }
    }
}
