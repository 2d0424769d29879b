import Foundation
import Testing
@testable import Tinh

@Suite struct VeRAExportTests {
    typealias F = CheckpointFixture
    let tokens: [Int32] = [1, 40, 7, 300, 12, 99, 5]
    static let config = AdapterConfig(method: .vera, rank: 48, targets: ["q", "v", "down"], seed: 5, options: VeRAOptions(projectionSeed: 42, initialD: 0.25))

    /// tiny with VeRA whose b is non-zero, so it changes the logits.
    func adaptedModel(config: AdapterConfig = config) throws -> (DecoderModel, AdapterSet) {
        let model = try TinyLlama.model(seed: 0)
        let set = try AdapterSet(model: model, config: config)
        var rng = SeededGenerator(seed: 11)
        for slot in set.parameters.slots {
            let p = set.parameters.values.data + slot.offset
            for i in 0..<slot.count { p[i] += 0.5 * rng.nextNormal() }
        }
        return (model, set)
    }

    @Test func keysShapesAndConfigAreAsPEFTNamesThem() throws {
        let out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (model, set) = try adaptedModel()
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: out)

        let c = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any] ?? [:]
        #expect(c["peft_type"] as? String == "VERA" && c["task_type"] as? String == "CAUSAL_LM")
        #expect(c["r"] as? Int == 48 && c["projection_prng_key"] as? Int == 42 && c["save_projection"] as? Bool == true)
        #expect(c["d_initial"] as? Double == 0.25 && c["vera_dropout"] as? Double == 0 && c["init_weights"] as? Bool == true)
        #expect(c["target_modules"] as? [String] == ["q_proj", "v_proj", "down_proj"])
        #expect(c["bias"] as? String == "none" && c["fan_in_fan_out"] as? Bool == false && c["base_model_name_or_path"] as? String == "tiny")
        #expect(c["lora_alpha"] == nil && c["use_dora"] == nil, "no LoRA fields")
        for key in ["layers_to_transform", "modules_to_save", "layers_pattern"] { #expect(c[key] is NSNull, "\(key)") }

        let weights = try SafeTensorsFile(path: out.appendingPathComponent("adapter_model.safetensors").path)
        let cfg = model.config, q = cfg.numHeads * cfg.headDim, kv = cfg.numKVHeads * cfg.headDim
        var expected: [String: [Int]] = [
            "base_model.vera_A": [48, max(cfg.hiddenSize, cfg.intermediateSize)],
            "base_model.vera_B": [max(q, kv, cfg.hiddenSize), 48],
        ]
        for i in 0..<cfg.numLayers {
            let p = "base_model.model.model.layers.\(i)."
            for (module, out) in [("self_attn.q_proj", q), ("self_attn.v_proj", kv), ("mlp.down_proj", cfg.hiddenSize)] {
                expected[p + module + ".vera_lambda_d"] = [48]
                expected[p + module + ".vera_lambda_b"] = [out]
            }
        }
        #expect(Dictionary(uniqueKeysWithValues: weights.tensors.map { ($0.name, $0.shape) }) == expected)
        let shared = try #require(VeRA.projections(of: set))
        #expect(try weights.tensor("base_model.vera_A").array == shared.a.array)
        #expect(try weights.tensor("base_model.vera_B").array == shared.b.array)
    }

    @Test func exportThenLoadGivesIdenticalLogits() throws {
        let out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        var config = Self.config
        config.layers = [1]
        let (model, set) = try adaptedModel(config: config)
        let adapted = try model.logits(tokens: tokens).array
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: out)

        let fresh = try TinyLlama.model(seed: 0)
        let base = try fresh.logits(tokens: tokens).array
        let loaded = try PEFTAdapter.load(dir: out.path, into: fresh)
        var expected = config
        expected.seed = 0  // the init seed is not part of an adapter file
        #expect(loaded.config == expected)
        #expect(base != adapted, "the adapter changes the model")
        #expect(try fresh.logits(tokens: tokens).array == adapted)
    }

    /// Projections drawn by someone else (PyTorch in PEFT) are taken from the file, not regenerated.
    @Test func loadUsesTheFilesProjections() throws {
        let out = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (_, set) = try adaptedModel()
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: out)
        let path = out.appendingPathComponent("adapter_model.safetensors").path
        let file = try SafeTensorsFile(path: path)
        var tensors: [String: Tensor] = [:]
        for info in file.tensors { tensors[info.name] = try file.tensor(info.name).copy() }
        let a = tensors["base_model.vera_A"]!
        for i in 0..<a.count { a[i] = -0.5 * a[i] }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)

        let loaded = try PEFTAdapter.load(dir: out.path, into: TinyLlama.model(seed: 0))
        #expect(try #require(VeRA.projections(of: loaded)).a.array == a.array)

        tensors["base_model.vera_B"] = Tensor(shape: [3, 48])
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)
        let model = try TinyLlama.model(seed: 0)
        #expect(throws: TinhError.self) { try PEFTAdapter.load(dir: out.path, into: model) }
        #expect(model.blocks[0].projection("q_proj")!.adapter == nil, "a failed load leaves no adapter")
        tensors["base_model.vera_B"] = nil
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)
        #expect(throws: TinhError.self) { try PEFTAdapter.load(dir: out.path, into: model) }
    }

    @Test func checkpointExportMatchesTheInMemoryExport() throws {
        let run = try F.temporaryDirectory(), direct = try F.temporaryDirectory(), fromCheckpoint = try F.temporaryDirectory()
        defer { for d in [run, direct, fromCheckpoint] { try? FileManager.default.removeItem(at: d) } }
        let (_, set) = try adaptedModel()
        try Checkpoints.save(step: 4, adapters: set, optimizer: F.trainedOptimizer(set), trainerState: F.trainerState(step: 4), runDirectory: run, keepLast: 1)
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: direct)
        try PEFTExport.write(checkpoint: run, baseModelName: "tiny", to: fromCheckpoint)
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(try Data(contentsOf: direct.appendingPathComponent(file)) == Data(contentsOf: fromCheckpoint.appendingPathComponent(file)), "\(file)")
        }
    }

    /// What PEFT itself writes, with fields Tinh ignores and the adapter name already stripped.
    @Test func readsPEFTsVeraConfig() throws {
        let json = """
        {"auto_mapping": null, "base_model_name_or_path": "someone/tiny", "bias": "none", "d_initial": 0.1,
         "fan_in_fan_out": false, "inference_mode": true, "init_weights": true, "layers_pattern": null,
         "layers_to_transform": null, "modules_to_save": null, "peft_type": "VERA", "projection_prng_key": 0,
         "r": 256, "revision": null, "save_projection": true, "target_modules": ["q_proj", "v_proj"],
         "task_type": "CAUSAL_LM", "vera_dropout": 0.0, "peft_version": "0.15.0"}
        """
        let c = try JSONDecoder().decode(PEFTVeRAConfig.self, from: Data(json.utf8))
        #expect(c.common.peftType == "VERA" && c.common.r == 256 && c.projectionPRNGKey == 0 && c.saveProjection && c.dInitial == 0.1)
        #expect(c.common.targetModules == .names(["q_proj", "v_proj"]))
        let again = try JSONDecoder().decode(PEFTVeRAConfig.self, from: c.encoded())
        #expect(again == c)
    }
}
