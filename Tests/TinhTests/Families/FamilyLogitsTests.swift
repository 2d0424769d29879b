import Foundation
import Testing
@testable import Tinh

/// Every family's logits against transformers' float32 forward of the same tiny random-weight
/// model (Fixtures/families/<family>/reference.json, from make_family_fixtures.py), loaded from its
/// Hugging Face directory and, where llama.cpp converts it, from its GGUF.
@Suite struct FamilyLogitsTests {
    struct Prompt {
        var inputIds: [Int32]
        var logits: [[Double]]
        var top5: [[Int32]]
    }

    static func prompts(_ family: String) throws -> [Prompt] {
        var reference = try FamilyFixture.reference(family)
        if let same = reference["same_as"] as? String {   // llama-sharded: llama's figures
            reference = try FamilyFixture.reference(URL(fileURLWithPath: same).deletingLastPathComponent().lastPathComponent)
        }
        let prompts = try #require(reference["prompts"] as? [[String: Any]])
        return try prompts.map { p in
            Prompt(inputIds: try #require(p["input_ids"] as? [Int]).map(Int32.init),
                   logits: try #require(p["logits"] as? [[Double]]),
                   top5: try #require(p["top5_ids"] as? [[Int]]).map { $0.map(Int32.init) })
        }
    }

    /// The sources a family's fixture has: its HF directory, and its GGUF if there is one.
    static func sources(_ family: String) throws -> [String] {
        let dir = try FamilyFixture.directory(family)
        let gguf = dir.appendingPathComponent("model.gguf").path
        return [dir.path] + (FileManager.default.fileExists(atPath: gguf) ? [gguf] : [])
    }

    /// Per logit: `RoundingBound.forwardEstimate` (two float32 forwards of the same weights that
    /// differ in summation order) times the position's largest |logit|, plus the fixture's own
    /// rounding to 6 significant digits (half a unit in the 6th digit: 5e-6 relative).
    static func tolerance(_ row: [Double], _ config: DecoderConfig) -> (absolute: Double, fixture: Double) {
        (RoundingBound.forwardEstimate(config) * (row.map(abs).max() ?? 0), 5e-6)
    }

    /// Top-5 ids agree, except where the reference puts two logits within twice the tolerance of
    /// each other (the sixth included): there the arithmetic does not decide the order.
    static func topIdsAgree(_ ours: [Int32], _ row: [Double], tolerance: Double) -> Bool {
        let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(6)
        let reference = ranked.prefix(5).map(Int32.init), logits = ranked.map { row[$0] }
        for i in ours.indices where ours[i] != reference[i] {
            let tiedAbove = i > 0 && logits[i - 1] - logits[i] <= 2 * tolerance
            let tiedBelow = logits[i] - logits[i + 1] <= 2 * tolerance
            if !tiedAbove && !tiedBelow { return false }
        }
        return true
    }

    /// llama-sharded is llama's model saved in four shards with model.safetensors.index.json.
    @Test(arguments: FamilyFixture.families + ["llama-sharded"])
    func logitsMatchTransformers(family: String) throws {
        let prompts = try Self.prompts(family)
        for source in try Self.sources(family) {
            // The model alone (its tokenizer is TokenizerFamilyTests' business).
            let (config, weights) = try ModelFileLoader.load(path: source)
            let model = try DecoderModel(config: config, weights: weights)
            let vocab = config.vocabSize
            let kind = source.hasSuffix(".gguf") ? "GGUF" : "HF"
            for (n, prompt) in prompts.enumerated() {
                let logits = try model.logits(tokens: prompt.inputIds).array
                try #require(logits.count == prompt.logits.count * vocab, "\(family) \(kind): vocabulary \(vocab)")
                var diff = 0.0, norm = 0.0
                for (p, row) in prompt.logits.enumerated() {
                    let ours = Array(logits[(p * vocab)..<((p + 1) * vocab)])
                    let t = Self.tolerance(row, config)
                    var worst = 0.0
                    for (a, b) in zip(ours, row) {
                        let d = abs(Double(a) - b)
                        worst = max(worst, d / (t.absolute + t.fixture * abs(b)))
                        diff += d * d; norm += b * b
                    }
                    #expect(worst <= 1, "\(family) \(kind) prompt \(n) position \(p): \(worst)× the tolerance")
                    let top = ours.indices.sorted { ours[$0] > ours[$1] }.prefix(5).map(Int32.init)
                    #expect(Self.topIdsAgree(top, row, tolerance: t.absolute + t.fixture * (row.map(abs).max() ?? 0)),
                            "\(family) \(kind) prompt \(n) position \(p): top-5 \(top) vs \(prompt.top5[p])")
                }
                // The criterion, which the per-logit bound implies here: relative L2 ≤ 1e-4.
                #expect((diff / norm).squareRoot() <= 1e-4, "\(family) \(kind) prompt \(n): relative L2 \((diff / norm).squareRoot())")
            }
        }
    }
}
