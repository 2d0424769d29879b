import Foundation
import Testing
@testable import Tinh

@Suite struct MergeTests {
    typealias F = CheckpointFixture
    let tokens: [Int32] = [3, 17, 255, 8, 140, 61]

    /// A Hugging Face directory holding tiny's weights (untied head unless `tied`), loadable by `ModelSource`.
    func baseDirectory(tied: Bool) throws -> URL {
        let dir = try F.temporaryDirectory()
        var config = TinyLlama.config
        config.tieWordEmbeddings = tied
        try SafeTensorsWriter.write(TinyLlama.weights(config: config, seed: 4), to: dir.appendingPathComponent("model.safetensors").path)
        try Merge.configJSON(config).write(to: dir.appendingPathComponent("config.json"))
        try TokenizerLoaderTests.tokenizerJSON(merges: ["h e", "l l", "ll o", "he llo"]).write(to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    @Test(arguments: [false, true]) func mergedModelGivesTheAdaptedLogits(tied: Bool) throws {
        let base = try baseDirectory(tied: tied), out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base); try? FileManager.default.removeItem(at: out) }
        let loaded = try ModelSource.load(base.path)
        let config = AdapterConfig(rank: 4, alpha: 8, targets: AdapterConfig.targetOrder, seed: 1)
        let set = try AdapterSet(model: loaded.model, config: config)
        var rng = SeededGenerator(seed: 8)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.2)
        }
        let qBefore = loaded.model.blocks[0].projection("q_proj")!.f32Weight.array
        let adapted = try loaded.model.logits(tokens: tokens).array

        let file = out.appendingPathComponent("model.safetensors").path
        let written = try Merge.write(model: loaded.model, adapters: set, to: file, tokenizerSource: base.path)
        #expect(Set(written.map { URL(fileURLWithPath: $0).lastPathComponent }) == ["model.safetensors", "config.json", "tokenizer.json"])
        #expect(loaded.model.blocks[0].projection("q_proj")!.f32Weight.array == qBefore, "the base weights are not modified")
        #expect(try SafeTensorsFile(path: file).info("lm_head.weight") == nil || !tied, "a tied head stays tied")

        let merged = try ModelSource.load(out.path)
        #expect(merged.config == loaded.config, "config.json reads back to the same shape")
        let logits = try merged.model.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(logits, adapted, loaded.config)
        #expect(agree.ok, "merged vs adapted logits differ by \(agree.relative) of the largest")
        set.detach()
        #expect(maxDifference(try loaded.model.logits(tokens: tokens).array, adapted) > 1e-3, "the adapter mattered")
    }

    @Test func refusesADirectoryWithOtherWeights() throws {
        let base = try baseDirectory(tied: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let loaded = try ModelSource.load(base.path)
        let set = try AdapterSet(model: loaded.model, config: AdapterConfig(rank: 2))
        #expect(throws: TinhError.invalidInput("merge: \(base.standardizedFileURL.path) already holds model.safetensors; write the merged model to a directory of its own")) {
            try Merge.write(model: loaded.model, adapters: set, to: base.appendingPathComponent("merged.safetensors").path)
        }
        #expect(throws: TinhError.self) { try Merge.write(model: loaded.model, adapters: set, to: base.appendingPathComponent("merged.bin").path) }
    }
}
