import Foundation
import Testing
@testable import Tinh

/// Every family's backward against finite differences: each fixture family's config.json (so its
/// spec: GeGLU, 1 + w norms, output norms, q/k norms, fused projections, soft-caps, windows, local
/// RoPE) with lively random weights, over sequences longer than its sliding windows.
@Suite struct FamilyGradientTests {
    let batch = 2, seq = 10
    /// h = 0.01 rather than ModelGradientTests' 0.02: at 10 positions the loss is more curved in the
    /// weights, and the five-point stencil's truncation (∝ h⁴) reached 1.5% on a few entries at
    /// h = 0.02 (16× less at 0.01); the rounding floor 6·lossNoise/h is then 6e-4.
    let checker = GradCheck(eps: 1e-2, tol: 1e-2, floorFraction: 2e-2, lossNoise: ModelGradientTests.lossNoise)
    let inputChecker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: 100, lossNoise: ModelGradientTests.lossNoise)

    static func config(_ family: String) throws -> DecoderConfig {
        let path = try FamilyFixture.directory(family).appendingPathComponent("config.json").path
        return try HFConfig.read(path: path).decoderConfig(source: path)
    }

    @Test(arguments: FamilyFixture.families)
    func lossGradientWrtInputEmbeddings(family: String) throws {
        let c = try Self.config(family)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        ModelGradientTests.checkInputGradient(model, batch: batch, seq: seq, checker: inputChecker, "\(family): d loss / d input embeddings")
    }

    /// A sample of entries of every tensor the family has, the embedding included (its scale).
    @Test(arguments: FamilyFixture.families)
    func lossGradientWrtEveryWeight(family: String) throws {
        let c = try Self.config(family)
        let weights = ModelFixture.weights(c)
        let model = try DecoderModel(config: c, weights: weights)
        let names = weights.keys.sorted()
        #expect(Set(names) == Set(DecoderWeightNames.expectedShapes(c).keys))
        try ModelGradientTests.checkWeightGradients(model, weights: weights, names: names, batch: batch, seq: seq, samples: 8,
                                                    checker: checker, embeddingChecker: inputChecker, label: "\(family): ")
    }
}

/// Incremental decoding with a KV cache gives the full forward's logits in every family: windows
/// slide over the cache, local layers take their own RoPE, soft-caps apply per step.
@Suite struct FamilyDecodeTests {
    @Test(arguments: FamilyFixture.families)
    func kvCacheDecodeMatchesFullForward(family: String) throws {
        let c = try FamilyGradientTests.config(family)
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let batch = 2, seq = 20, prefill = 9   // both beyond every fixture's window (≤ 8)
        let (tokens, _, _) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        let full = try model.logits(tokens: tokens, batch: batch, seq: seq)
        let cache = try model.makeKVCache(batch: batch, maxTokens: seq)
        _ = try model.decode(tokens: (0..<batch).flatMap { b in tokens[(b * seq)..<(b * seq + prefill)] }, cache: cache)
        let v = c.vocabSize
        for t in prefill..<seq {
            let step = try model.decode(tokens: (0..<batch).map { tokens[$0 * seq + t] }, cache: cache)
            for b in 0..<batch {
                let got = Array(UnsafeBufferPointer(start: step.data + b * v, count: v))
                let want = Array(UnsafeBufferPointer(start: full.data + (b * seq + t) * v, count: v))
                let agree = RoundingBound.logitsAgree(got, want, c)
                #expect(agree.ok, "\(family) position \(t): \(agree.relative) relative")
            }
        }
    }
}
