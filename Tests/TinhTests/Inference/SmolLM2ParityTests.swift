import Foundation
import Testing
@testable import Tinh

/// Logits of the real model against Hugging Face transformers (float32, same GGUF dequantized):
/// Fixtures/smollm2/smollm2-logits.json (Fixtures/make_smollm2_reference.py), on every frozen-GEMM
/// library this build and CPU have.
@Suite(.serialized, .enabled(if: ModelCache.isSmolLM2Cached, "SKIPPED: SmolLM2 is not in the cache (tinh fetch smollm2)"))
struct SmolLM2ParityTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            var prompt: String
            var token_ids: [Int32]
            var positions: [Position]
            var greedy_ids: [Int32]
            var greedy_text: String
            var greedy_steps: [GreedyStep]
        }
        /// One greedy step of the reference: the gap between its two best logits, and their L2 norm.
        struct GreedyStep: Decodable {
            var top2_gap: Double
            var l2: Double
            var max_abs: Double
        }
        struct Position: Decodable {
            var position: Int
            var input_id: Int32
            var top5_ids: [Int32]
            var top5_logits: [Double]
            var sixth_logit: Double
            var max_abs: Double
            var sum: Double
            var l2: Double
        }
        var cases: [Case]
    }

    static let loaded = Result { try ModelSource.load("smollm2") }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: ReferenceFiles.data("smollm2/smollm2-logits.json"))
    }

    /// Tolerance per logit: `RoundingBound.forwardEstimate` (both sides are float32 forwards of the
    /// same weights that differ only in summation order) times the position's largest |logit|:
    /// for SmolLM2 (K = 1536, 30 layers) 1.8e-4 of it, ≈ 5e-3 on logits of ≈ 27. Seen on Zen 4,
    /// OpenBLAS and oneDNN: ≤ 3e-4 absolute. The L2 norm of V logits can then be off by √V times
    /// it, and their sum by V times it.
    func tolerance(_ maxAbs: Double, _ loaded: LoadedModel) -> Double {
        RoundingBound.forwardEstimate(loaded.config) * maxAbs
    }

    /// The top-5 ids must agree, except at a rank whose reference logit lies within twice the
    /// tolerance of a neighbour's, the sixth included (the arithmetic does not decide such an
    /// order; the values are still checked).
    func topIdsAgree(_ ours: [Int32], _ ref: Reference.Position, tolerance: Double) -> Bool {
        guard ours.count == ref.top5_ids.count else { return false }
        let logits = ref.top5_logits + [ref.sixth_logit]
        for i in ours.indices where ours[i] != ref.top5_ids[i] {
            let tiedAbove = i > 0 && logits[i - 1] - logits[i] <= 2 * tolerance
            let tiedBelow = logits[i] - logits[i + 1] <= 2 * tolerance
            if !tiedAbove && !tiedBelow { return false }
        }
        return true
    }

    @Test(arguments: FrozenGEMM.usable) func logitsMatchTransformers(gemm: FrozenGEMM) throws {
        let loaded = try Self.loaded.get()
        loaded.model.frozenGEMM = gemm
        defer { loaded.model.frozenGEMM = .openblas }
        let vocab = Double(loaded.config.vocabSize)
        for c in try reference().cases {
            let report = try LogitsReport.compute(loaded, prompt: c.prompt, topK: 5)
            #expect(report.tokenIds == c.token_ids)
            try #require(report.positions.count == c.positions.count)
            for (ours, ref) in zip(report.positions, c.positions) {
                let tolerance = tolerance(ref.max_abs, loaded)
                #expect(topIdsAgree(ours.topIds, ref, tolerance: tolerance), "\(gemm) position \(ref.position): \(ours.topIds) vs \(ref.top5_ids)")
                for (a, b) in zip(ours.topLogits, ref.top5_logits) {
                    // The fixture rounds these to 5 decimals: ±5e-6 more.
                    #expect(abs(Double(a) - b) <= tolerance + 5e-6, "position \(ref.position): logit \(a) vs \(b)")
                }
                #expect(abs(ours.l2 - ref.l2) <= tolerance * vocab.squareRoot(), "position \(ref.position): l2 \(ours.l2) vs \(ref.l2)")
                #expect(abs(ours.sum - ref.sum) <= tolerance * vocab, "position \(ref.position): sum \(ours.sum) vs \(ref.sum)")
            }
        }
    }

    /// Greedy decoding picks the top logit at every step. Where the reference's two best logits lie
    /// further apart than twice the tolerance, rounding cannot swap them, so the continuation must
    /// agree token for token up to the first step where they do not (all 20 steps in this fixture:
    /// the smallest gap there is 1.9e-2 of the step's largest |logit|, the tolerance 1.8e-4 of it).
    @Test(arguments: FrozenGEMM.usable) func greedyContinuationMatchesTransformers(gemm: FrozenGEMM) throws {
        let loaded = try Self.loaded.get()
        loaded.model.frozenGEMM = gemm
        defer { loaded.model.frozenGEMM = .openblas }
        for c in try reference().cases {
            var sampler = try TokenSampler(temperature: 0)
            let ids = try TextGenerator(loaded).generate(prompt: c.token_ids, maxTokens: c.greedy_ids.count, sampler: &sampler)
            let decided = c.greedy_steps.firstIndex { $0.top2_gap <= 2 * tolerance($0.max_abs, loaded) } ?? c.greedy_steps.count
            #expect(decided >= 1, "the first greedy step must be decided by more than rounding")
            #expect(Array(ids.prefix(decided)) == Array(c.greedy_ids.prefix(decided)), "\(gemm): \(ids) vs \(c.greedy_ids)")
            if decided == c.greedy_ids.count { #expect(loaded.tokenizer.decode(ids) == c.greedy_text) }
        }
    }
}
