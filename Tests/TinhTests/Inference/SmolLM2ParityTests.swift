import Foundation
import Testing
@testable import Tinh

/// Logits of the real model against Hugging Face transformers (float32, same GGUF dequantized):
/// `../shared/reference/smollm2-logits.json`.
@Suite(.serialized, .enabled(if: ModelCache.isSmolLM2Cached, "SKIPPED: SmolLM2 is not in the cache (tinh fetch smollm2)"))
struct SmolLM2ParityTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            var prompt: String
            var token_ids: [Int32]
            var positions: [Position]
            var greedy_ids: [Int32]
            var greedy_text: String
        }
        struct Position: Decodable {
            var position: Int
            var input_id: Int32
            var top5_ids: [Int32]
            var top5_logits: [Double]
            var sum: Double
            var l2: Double
        }
        var cases: [Case]
    }

    static let loaded = Result { try ModelSource.load("smollm2") }

    func reference() throws -> Reference {
        let dir = try #require(ReferenceFiles.directory(), "shared/reference not found: set TINH_REFERENCE_DIR")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("smollm2-logits.json")))
    }

    @Test func logitsMatchTransformers() throws {
        let loaded = try Self.loaded.get()
        let vocab = Double(loaded.config.vocabSize)
        for c in try reference().cases {
            let report = try LogitsReport.compute(loaded, prompt: c.prompt, topK: 5)
            #expect(report.tokenIds == c.token_ids)
            try #require(report.positions.count == c.positions.count)
            for (ours, ref) in zip(report.positions, c.positions) {
                // Tolerance: 1e-3 of the position's logit L2 norm, per logit; the sum of V logits
                // can then be off by at most √V times that.
                let tolerance = 1e-3 * ref.l2
                #expect(ours.topIds == ref.top5_ids, "position \(ref.position)")
                for (a, b) in zip(ours.topLogits, ref.top5_logits) {
                    #expect(abs(Double(a) - b) <= tolerance, "position \(ref.position): logit \(a) vs \(b)")
                }
                #expect(abs(ours.l2 - ref.l2) <= tolerance, "position \(ref.position): l2 \(ours.l2) vs \(ref.l2)")
                #expect(abs(ours.sum - ref.sum) <= tolerance * vocab.squareRoot(), "position \(ref.position): sum \(ours.sum) vs \(ref.sum)")
            }
        }
    }

    @Test func greedyContinuationMatchesTransformers() throws {
        let loaded = try Self.loaded.get()
        for c in try reference().cases {
            var sampler = try TokenSampler(temperature: 0)
            let ids = try TextGenerator(loaded).generate(prompt: c.token_ids, maxTokens: c.greedy_ids.count, sampler: &sampler)
            #expect(ids == c.greedy_ids)
            #expect(loaded.tokenizer.decode(ids) == c.greedy_text)
        }
    }
}
