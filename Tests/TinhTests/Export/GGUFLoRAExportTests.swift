import Foundation
import Testing
@testable import Tinh

/// The LoRA GGUF holds what llama.cpp's loader expects: the adapter metadata, and per weight
/// lora_a = A (ne [in, r]) and lora_b = B (ne [r, out]) with llama's q/k rows permuted, so that
/// alpha / r · B·A is the trained ΔW in llama.cpp's row order. (llama.cpp itself checks the
/// same files in bench/llamacpp-check.)
@Suite struct GGUFLoRAExportTests {
    static func export(_ set: AdapterSet, _ model: DecoderModel) throws -> (GGUFFile, GGUFLoRAExport.Summary, URL) {
        let url = try GGUFWriterTests.temporaryFile("adapter.gguf")
        let summary = try GGUFLoRAExport.write(adapters: set, model: model, to: url.path, baseHash: "FNV-1a test")
        return (try GGUFFile(path: url.path), summary, url)
    }

    @Test func loraFactorsAreWrittenAsTrainedWithLlamasRowOrder() throws {
        let config = LowRankFactorsTests.configs[0].1
        let (model, set) = try LowRankFactorsTests.adapted(config)
        let (g, summary, url) = try Self.export(set, model)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(g.metadata["general.type"] == .string("adapter"))
        #expect(g.metadata["general.architecture"] == .string("llama"))
        #expect(g.metadata["adapter.type"] == .string("lora"))
        #expect(g.metadata["adapter.lora.alpha"] == .float32(config.alpha), "alpha as trained: alpha / r is the scale")
        #expect(g.metadata["tinh.base.hash"] == .string("FNV-1a test"))
        #expect(!summary.folded && summary.modules == set.modules.count)
        #expect(g.tensors.count == 2 * set.modules.count)
        for (module, adapter) in set.modules {
            let f = try #require(adapter as? LowRankAdapter).lowRankFactors()
            let name = try #require(GGUFModelLoader.ggufName(module + ".weight", family: .llama))
            let a = try #require(g.info(name + ".lora_a")), b = try #require(g.info(name + ".lora_b"))
            #expect(a.ne == [f.a.shape[1], f.rank] && b.ne == [f.rank, f.b.shape[0]], "\(name): llama.cpp's shapes")
            #expect(try g.tensor(a.name).array == f.a.array, "\(name): A exactly")
            let heads = module.hasSuffix("q_proj") ? model.config.numHeads : module.hasSuffix("k_proj") ? model.config.numKVHeads : nil
            let expected = try heads.map { try RopePermutation.permute(f.b, heads: $0) } ?? f.b
            #expect(try g.tensor(b.name).array == expected.array, "\(name): B exactly, rows permuted for q/k only")
            if let heads { #expect(try RopePermutation.unpermute(g.tensor(b.name), heads: heads).array == f.b.array) }
        }
    }

    /// AdaLoRA: ranks differ per module, so the scale is folded into B and alpha is 0 (llama.cpp's "scale 1").
    @Test func mixedRanksFoldTheScale() throws {
        let config = LowRankFactorsTests.configs.first { $0.0 == "adalora" }!.1
        let (model, set) = try LowRankFactorsTests.adapted(config)
        // One module keeps all of its triplets, the others half: ranks 4 and 2.
        let first = try #require(set.parameters.slots.first { $0.group == "lora_E" })
        for k in 0..<first.count { set.parameters.values.data[first.offset + k] = 0.5 }
        let (g, summary, url) = try Self.export(set, model)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(summary.folded && Set(summary.ranks) == [2, 4])
        #expect(g.metadata["adapter.lora.alpha"] == .float32(0))
        for (module, adapter) in set.modules {
            let f = try #require(adapter as? LowRankAdapter).lowRankFactors()
            let name = try #require(GGUFModelLoader.ggufName(module + ".weight", family: .llama))
            var scaled = f.b.array.map { $0 * f.scale }
            if module.hasSuffix("q_proj") {
                scaled = try RopePermutation.permute(Tensor(shape: f.b.shape, values: scaled), heads: model.config.numHeads).array
            }
            #expect(try g.tensor(name + ".lora_b").array == scaled, "\(name): s·B, one rounding per entry")
        }
    }

    @Test(arguments: [MethodID.dora, .deltaLoRA])
    func methodsThatAreNotALoRAAreRefused(method: MethodID) throws {
        let model = try TinyLlama.model(seed: 0)
        let set = try AdapterSet(model: model, config: AdapterConfig(method: method, rank: 2, targets: ["q"]))
        let url = try GGUFWriterTests.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            try GGUFLoRAExport.write(adapters: set, model: model, to: url.path)
            Issue.record("\(method) exported as a LoRA")
        } catch let TinhError.unsupported(message) {
            #expect(message.contains(method.name) && message.contains("merged"), "names the method and the way out: \(message)")
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
