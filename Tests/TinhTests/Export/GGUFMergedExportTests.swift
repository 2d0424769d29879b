import Foundation
import Testing
@testable import Tinh

/// Merged GGUFs of the llama.cpp-converted fixtures (llama: q/k rows permuted; qwen2: biases, not
/// permuted): they load back with the adapted model's logits, keep the base's metadata and
/// untouched tensors byte for byte, and quantize from the merged Float32 weights.
@Suite struct GGUFMergedExportTests {
    static func adaptedFixture(_ family: String) throws -> (LoadedModel, AdapterSet, [Float], [Int32]) {
        let path = try FamilyFixture.directory(family).appendingPathComponent("model.gguf").path
        let loaded = try ModelSource.load(path)
        let targets = AdapterConfig.targets(for: loaded.config.spec.projections)
        let set = try AdapterSet(model: loaded.model, config: AdapterConfig(rank: 4, alpha: 8, targets: targets, seed: 1))
        var rng = SeededGenerator(seed: 5)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        let tokens: [Int32] = [1, 7, 42, 99, 3, 200, 11, 5]
        return (loaded, set, try loaded.model.logits(tokens: tokens).array, tokens)
    }

    @Test(arguments: ["llama", "qwen2"])
    func mergedF32LoadsWithTheAdaptedLogits(family: String) throws {
        let (loaded, set, adapted, tokens) = try Self.adaptedFixture(family)
        let base = try #require(loaded.gguf)
        let url = try GGUFWriterTests.temporaryFile("merged.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let summary = try GGUFMergedExport.write(base: base, model: loaded.model, adapters: set, type: .f32, to: url.path)
        #expect(summary.merged == set.modules.count)
        let merged = try ModelSource.load(url.path)
        #expect(merged.config == loaded.config)
        let agree = RoundingBound.logitsAgree(try merged.model.logits(tokens: tokens).array, adapted, loaded.config)
        #expect(agree.ok, "\(family): merged vs adapted logits differ by \(agree.relative) of the largest")

        let g = try GGUFFile(path: url.path)
        #expect(g.metadataKeys.filter { !$0.hasPrefix("tinh.") && $0 != "general.file_type" }
                == base.metadataKeys.filter { $0 != "general.alignment" && $0 != "general.file_type" }, "every key, in order")
        for key in base.metadataKeys where key != "general.file_type" && key != "general.alignment" {
            #expect(g.metadata[key] == base.metadata[key], "\(key) kept (tokenizer, template, hyperparameters)")
        }
        #expect(g.metadata["general.file_type"] == .uint32(0))
        #expect(g.tensors.map(\.name) == base.tensors.map(\.name), "tensors in the base's order")
        let adaptedNames = Set(set.modules.compactMap { GGUFModelLoader.ggufName($0.name + ".weight", family: loaded.config.spec.family) })
        for info in base.tensors where !adaptedNames.contains(info.name) {
            #expect(Array(try g.rawData(info.name).bytes) == Array(try base.rawData(info.name).bytes), "\(info.name) copied as stored")
        }
    }

    /// Q8_0 matrices are the reference quantization of the merged Float32 ones (not of a quantized copy);
    /// vectors keep their type.
    @Test func quantizedMergeEncodesTheMergedWeights() throws {
        let (loaded, set, _, _) = try Self.adaptedFixture("llama")
        let base = try #require(loaded.gguf)
        let dir = try CheckpointFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f32 = dir.appendingPathComponent("f32.gguf").path, q8 = dir.appendingPathComponent("q8.gguf").path
        try GGUFMergedExport.write(base: base, model: loaded.model, adapters: set, type: .f32, to: f32)
        try GGUFMergedExport.write(base: base, model: loaded.model, adapters: set, type: .q8_0, to: q8)
        let (full, quantized) = (try GGUFFile(path: f32), try GGUFFile(path: q8))
        #expect(quantized.metadata["general.file_type"] == .uint32(7))
        for info in full.tensors {
            let q = try #require(quantized.info(info.name))
            if info.ne.count == 1 {
                #expect(q.type == info.type, "\(info.name) keeps its type")
                continue
            }
            // Rows that are not whole 32-blocks (the fixture's MLP width 48) fall back to F16, as in llama.cpp.
            let type: GGMLType = info.ne[0] % 32 == 0 ? .q8_0 : .f16
            #expect(q.type == type, "\(info.name)")
            let w = try full.tensor(info.name)
            var expected = [UInt8](repeating: 0, count: try #require(q.byteCount))
            try expected.withUnsafeMutableBytes { try GGMLEncode.run(type, w.data, count: w.count, into: $0) }
            #expect(Array(try quantized.rawData(info.name).bytes) == expected, "\(info.name)")
        }
    }

    @Test func refusalsLeaveNoFile() throws {
        let (loaded, set, _, _) = try Self.adaptedFixture("llama")
        let dir = try CheckpointFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.gguf").path
        // A base that is not GGUF: no tokenizer metadata to copy.
        let hf = try ModelSource.load(FamilyFixture.directory("llama").path)
        let hfSet = try AdapterSet(model: hf.model, config: AdapterConfig(rank: 2, targets: ["q"]))
        #expect(throws: TinhError.self) { try GGUFExport.write(.merged, loaded: hf, adapters: hfSet, quant: .f16, to: out) }
        // A full disk part-way through.
        #expect(throws: TinhError.self) {
            try GGUFMergedExport.write(base: try #require(loaded.gguf), model: loaded.model, adapters: set, type: .f16, to: out,
                                       budget: WriteBudget(bytes: 4096))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no file, no temporary")
    }
}
