import Foundation
import Testing
@testable import Tinh

@Suite struct PEFTExportTests {
    typealias F = CheckpointFixture
    let tokens: [Int32] = [1, 40, 7, 300, 12, 99, 5]

    func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
    }

    @Test func keysShapesAndConfigAreAsPEFTNamesThem() throws {
        let out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (model, set) = try F.adaptedModel()
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["adapter_config.json", "adapter_model.safetensors"])

        let c = try json(out.appendingPathComponent("adapter_config.json"))
        #expect(c["peft_type"] as? String == "LORA" && c["task_type"] as? String == "CAUSAL_LM")
        #expect(c["r"] as? Int == 4 && c["lora_alpha"] as? Double == 8)
        #expect(c["target_modules"] as? [String] == ["q_proj", "v_proj", "down_proj"])
        #expect(c["use_rslora"] as? Bool == false && c["use_dora"] as? Bool == false)
        #expect(c["lora_dropout"] as? Double == 0 && c["bias"] as? String == "none")
        #expect(c["fan_in_fan_out"] as? Bool == false && c["init_lora_weights"] as? Bool == true && c["inference_mode"] as? Bool == true)
        #expect(c["base_model_name_or_path"] as? String == "tiny")
        for key in ["layers_to_transform", "modules_to_save", "revision", "layers_pattern"] {
            #expect(c[key] is NSNull, "\(key) is written as null")
        }

        let weights = try SafeTensorsFile(path: out.appendingPathComponent("adapter_model.safetensors").path)
        let cfg = model.config, q = cfg.numHeads * cfg.headDim, kv = cfg.numKVHeads * cfg.headDim
        var expected: [String: [Int]] = [:]
        for i in 0..<cfg.numLayers {
            let p = "base_model.model.model.layers.\(i)."
            expected[p + "self_attn.q_proj.lora_A.weight"] = [4, cfg.hiddenSize]
            expected[p + "self_attn.q_proj.lora_B.weight"] = [q, 4]
            expected[p + "self_attn.v_proj.lora_A.weight"] = [4, cfg.hiddenSize]
            expected[p + "self_attn.v_proj.lora_B.weight"] = [kv, 4]
            expected[p + "mlp.down_proj.lora_A.weight"] = [4, cfg.intermediateSize]
            expected[p + "mlp.down_proj.lora_B.weight"] = [cfg.hiddenSize, 4]
        }
        #expect(Dictionary(uniqueKeysWithValues: weights.tensors.map { ($0.name, $0.shape) }) == expected)
        #expect(weights.tensors.allSatisfy { $0.dtype == .F32 })
        #expect(weights.metadata["format"] == "pt")
    }

    @Test func exportThenLoadGivesIdenticalLogits() throws {
        let out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        var config = F.adapterConfig
        config.rsLoRA = true
        config.layers = [1]
        let (model, set) = try F.adaptedModel(config: config)
        let adapted = try model.logits(tokens: tokens).array
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: out)

        let fresh = try TinyLlama.model(seed: 0)
        let base = try fresh.logits(tokens: tokens).array
        let loaded = try PEFTAdapter.load(dir: out.path, into: fresh)
        #expect(loaded.config.rank == 4 && loaded.config.rsLoRA && loaded.config.layers == [1] && loaded.config.targets == ["q", "v", "down"])
        #expect(base != adapted, "the adapter changes the model")
        #expect(try fresh.logits(tokens: tokens).array == adapted)
    }

    @Test func checkpointExportMatchesTheInMemoryExport() throws {
        let run = try F.temporaryDirectory(), direct = try F.temporaryDirectory(), fromCheckpoint = try F.temporaryDirectory()
        defer { for d in [run, direct, fromCheckpoint] { try? FileManager.default.removeItem(at: d) } }
        let (_, set) = try F.adaptedModel()
        try Checkpoints.save(step: 4, adapters: set, optimizer: F.trainedOptimizer(set), trainerState: F.trainerState(step: 4), runDirectory: run, keepLast: 1)
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: direct)
        try PEFTExport.write(checkpoint: run, baseModelName: "tiny", to: fromCheckpoint)
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(try Data(contentsOf: direct.appendingPathComponent(file)) == Data(contentsOf: fromCheckpoint.appendingPathComponent(file)), "\(file)")
        }
    }

    /// What PEFT itself writes: more fields, an int alpha, full module names, ".default" in keys.
    @Test func loadsAHandWrittenPEFTAdapter() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = """
        {"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "someone/tiny", "bias": "none",
         "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": "gaussian", "layer_replication": null,
         "layers_pattern": null, "layers_to_transform": 1, "loftq_config": {}, "lora_alpha": 16, "lora_dropout": 0.05,
         "megatron_config": null, "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA",
         "r": 2, "rank_pattern": {}, "revision": null, "target_modules": ["self_attn.k_proj", "o_proj"],
         "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false, "some_future_field": [1, {"x": 2}]}
        """
        try Data(config.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        let c = TinyLlama.config, kv = c.numKVHeads * c.headDim
        var d = TestData(seed: 3)
        func random(_ shape: [Int]) -> Tensor {
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t[i] = 0.1 * d.rng.nextNormal() }
            return t
        }
        let p = "base_model.model.model.layers.1.self_attn."
        let tensors = [p + "k_proj.lora_A.default.weight": random([2, c.hiddenSize]), p + "k_proj.lora_B.default.weight": random([kv, 2]),
                       p + "o_proj.lora_A.default.weight": random([2, c.hiddenSize]), p + "o_proj.lora_B.default.weight": random([c.hiddenSize, 2])]
        try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("adapter_model.safetensors").path)

        let model = try TinyLlama.model()
        let set = try PEFTAdapter.load(dir: dir.path, into: model)
        #expect(set.config == AdapterConfig(rank: 2, alpha: 16, targets: ["k", "o"], layers: [1]))
        let slot = try #require(set.parameters.slots.first { $0.name == p + "o_proj.lora_B.weight" })
        #expect(Array(UnsafeBufferPointer(start: set.parameters.value(set.parameters.slots.firstIndex(of: slot)!), count: slot.count))
                == tensors[p + "o_proj.lora_B.default.weight"]!.array)

        // The same selection as a regular expression over module names.
        let regex = config.replacingOccurrences(of: "[\"self_attn.k_proj\", \"o_proj\"]", with: "\"model\\\\.layers\\\\.1\\\\.self_attn\\\\.(k|o)_proj\"")
        try Data(regex.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(try PEFTAdapter.load(dir: dir.path, into: TinyLlama.model()).config.targets == ["k", "o"])
    }

    @Test(arguments: [
        ("\"bias\": \"all\"", "bias 'all'"),
        ("\"fan_in_fan_out\": true", "fan_in_fan_out"),
        ("\"peft_type\": \"IA3\"", "peft_type 'IA3'"),
        ("\"modules_to_save\": [\"lm_head\"]", "modules_to_save [\"lm_head\"]"),
    ])
    func unsupportedFeaturesAreClearErrors(field: String, what: String) throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, set) = try F.adaptedModel()
        try PEFTExport.write(adapters: set, baseModelName: nil, to: dir)
        let path = dir.appendingPathComponent("adapter_config.json")
        var text = try String(contentsOf: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "{", with: "{ \(field),", options: [], range: text.range(of: "{"))
        try Data(text.utf8).write(to: path)
        let model = try TinyLlama.model()
        // A peft_type no method reads is the registry's error; a LoRA feature Tinh lacks, LoRA's reader's.
        let known = "Tinh loads peft_type " + MethodID.allCases.flatMap { $0.type.peftTypes }.joined(separator: ", ")
        #expect(throws: TinhError.unsupported("\(what) in \(path.path); " + (what.hasPrefix("peft_type") ? known : "Tinh loads plain LoRA and DoRA adapters"))) {
            try PEFTAdapter.load(dir: dir.path, into: model)
        }
        #expect(model.blocks[0].projection("q_proj")!.adapter == nil)
    }

    @Test func mismatchedWeightsAreClearErrors() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, set) = try F.adaptedModel()
        try PEFTExport.write(adapters: set, baseModelName: nil, to: dir)
        let path = dir.appendingPathComponent("adapter_config.json")
        let text = try String(contentsOf: path, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "\"r\" : 4", with: "\"r\" : 2").utf8).write(to: path)
        let model = try TinyLlama.model()
        let weights = dir.appendingPathComponent("adapter_model.safetensors").path
        #expect(throws: TinhError.badFile(path: weights, reason: "tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [4, 64], the adapter needs [2, 64]")) {
            try PEFTAdapter.load(dir: dir.path, into: model)
        }
        #expect(model.blocks[0].projection("q_proj")!.adapter == nil, "a failed load leaves the model as it was")
        try Data(text.replacingOccurrences(of: "\"down_proj\"", with: "\"gate_proj\"").utf8).write(to: path)
        #expect(throws: TinhError.badFile(path: weights, reason: "tensor 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight' matches no adapted module of this model and settings")) {
            try PEFTAdapter.load(dir: dir.path, into: model)
        }
        try Data(text.replacingOccurrences(of: "\"q_proj\",", with: "\"model.layers.0.self_attn.q_proj\",").utf8).write(to: path)
        #expect(throws: TinhError.unsupported("target_modules [model.layers.0.self_attn.q_proj, v_proj, down_proj] selecting different projections in different blocks in \(path.path); Tinh loads plain LoRA adapters")) {
            try PEFTAdapter.load(dir: dir.path, into: model)
        }
        #expect(throws: TinhError.self) { try PEFTAdapter.load(dir: dir.appendingPathComponent("nope").path, into: model) }
    }
}
