import Foundation
import Testing
@testable import Tinh

@Suite struct DeltaLoRATests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-delta-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 24, validCount: 4, seed: 3)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    static func adapterConfig(method: MethodID = .deltaLoRA, lambda: Float = 1.5, start: Int = 3) -> AdapterConfig {
        AdapterConfig(method: method, rank: 4, alpha: 8, targets: ["q", "v", "down"], seed: 7,
                      options: method == .deltaLoRA ? DeltaLoRAOptions(lambda: lambda, start: start) : nil)
    }

    /// An in-process trainer on tiny:2 (one rank) whose steps the test drives itself.
    static func trainer(_ adapter: AdapterConfig, loaded: LoadedModel? = nil) throws -> Trainer {
        var config = TrainConfig(model: "tiny:2", data: data, out: FileManager.default.temporaryDirectory
            .appendingPathComponent("tinh-delta-run-\(UUID().uuidString)").path, adapter: adapter)
        config.steps = 8; config.batch = 4; config.seq = 48; config.lr = 1e-2; config.warmup = 0; config.validFraction = 0.1
        return try Trainer(config: config, comm: LocalCommunicator(), loaded: loaded ?? ModelSource.load("tiny:2"))
    }

    /// s·B·A of one module, [out, in].
    static func product(_ adapter: DeltaLoRA) -> [Float] {
        let w = Tensor(shape: adapter.weight.shape)
        adapter.addDelta(to: w.data)
        return w.array
    }

    static func deltaModules(_ set: AdapterSet) -> [DeltaLoRA] { (set.method as? DeltaLoRAMethod)?.modules.map(\.delta) ?? [] }

    @Test func weightsTelescopeToTheChangeOfBA() throws {
        let loaded = try ModelSource.load("tiny:2")
        let start = 3, steps = 8
        let w0 = loaded.model.linears.map { $0.f32Weight.array }
        let trainer = try Self.trainer(Self.adapterConfig(lambda: 1.5, start: start), loaded: loaded)
        let modules = Self.deltaModules(trainer.adapters)
        #expect(modules.count == 3 * loaded.config.numLayers)
        var atStart: [[Float]] = []
        for t in 0..<steps {
            _ = try trainer.trainStep(t)
            if t + 1 == start {
                atStart = modules.map(Self.product)
                // Nothing moved before delta-start.
                #expect(loaded.model.linears.map { $0.f32Weight.array.map(\.bitPattern) } == w0.map { $0.map(\.bitPattern) })
            }
        }
        var largest: Float = 0
        for (i, module) in modules.enumerated() {
            let linear = try #require(loaded.model.linears.first { $0.f32Weight === module.weight })
            let before = w0[try #require(loaded.model.linears.firstIndex { $0 === linear })]
            // W_T − W_0 = λ·(s·B_T A_T − s·B_k A_k)
            let expected = zip(Self.product(module), atStart[i]).map { module.lambda * ($0 - $1) }
            let moved = zip(module.weight.array, before).map { $0 - $1 }
            let scale = expected.map(abs).max() ?? 0
            let wMax = before.map(abs).max() ?? 0
            let worst = zip(moved, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 * scale + Float(4 * steps) * wMax * Float.ulpOfOne, "\(linear.name): |ΔW − λ·Δ(sBA)| = \(worst), |λ·Δ(sBA)| up to \(scale)")
            largest = max(largest, scale)
        }
        #expect(largest > 1e-3, "the weights hardly moved (\(largest)): the test would prove nothing")
    }

    @Test func lambdaZeroTrainsExactlyWhatLoRATrains() throws {
        let lora = try Self.trainer(Self.adapterConfig(method: .lora))
        let delta = try Self.trainer(Self.adapterConfig(lambda: 0, start: 0))
        for t in 0..<6 {
            let a = try lora.trainStep(t), b = try delta.trainStep(t)
            #expect(a.loss.bitPattern == b.loss.bitPattern && a.gradNorm.bitPattern == b.gradNorm.bitPattern, "step \(t): \(a.loss) vs \(b.loss)")
        }
        #expect(lora.adapters.parameters.values.array.map(\.bitPattern) == delta.adapters.parameters.values.array.map(\.bitPattern))
        #expect(lora.adapters.parameters.slots == delta.adapters.parameters.slots)
    }

    @Test func onlyTheAdaptedWeightsBecomePrivateCopies() throws {
        let model = try TinyLlama.model(seed: 2)
        let before = model.linears.map { ($0.name, $0.f32Weight, $0.f32Weight.array) }
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, rank: 2, targets: ["q", "down"], layers: [1]))
        let adapted = Set(set.modules.map(\.name))
        #expect(adapted == ["model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj"])
        for (linear, (name, original, values)) in zip(model.linears, before) {
            if adapted.contains(name) {
                #expect(linear.f32Weight !== original && linear.f32Weight.data != original.data, "\(name) must own a copy")
                #expect(linear.f32Weight.array.map(\.bitPattern) == values.map(\.bitPattern), "\(name): the copy has the same values")
            } else {
                #expect(linear.f32Weight === original, "\(name) is not adapted: it must keep the shared weights")
            }
        }
        // Plain LoRA never copies.
        let other = try TinyLlama.model(seed: 2)
        let weights = other.linears.map(\.weight)
        _ = try AdapterSet(model: other, config: AdapterConfig(rank: 2, targets: ["q", "down"]))
        #expect(zip(other.linears, weights).allSatisfy { $0.weight === $1 })
    }

    @Test func gradientsOfAAndBMatchFiniteDifferences() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, rank: 3, alpha: 6, targets: ["q", "v", "up"], seed: 9))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        AdapterGradientChecks.slots(model, set, perSlot: 4, only: Array(set.parameters.slots.prefix(4)))
    }

    @Test func checkpointRestoresTheMovedWeightsBitForBit() throws {
        let trainer = try Self.trainer(Self.adapterConfig(lambda: 1, start: 0))
        for t in 0..<3 { _ = try trainer.trainStep(t) }
        trainer.step = 3
        _ = try trainer.saveCheckpoint()
        let saved = Self.deltaModules(trainer.adapters).map { $0.weight.array.map(\.bitPattern) }
        let fresh = try Self.trainer(trainer.config.adapter)
        let fresh0 = Self.deltaModules(fresh.adapters).map { $0.weight.array.map(\.bitPattern) }
        #expect(fresh0 != saved, "training moved W")
        _ = try fresh.resume(from: trainer.outDirectory)
        #expect(Self.deltaModules(fresh.adapters).map { $0.weight.array.map(\.bitPattern) } == saved)
        // The next step continues identically (the pre-step A, B were re-taken from the restored values).
        let a = try trainer.trainStep(3), b = try fresh.trainStep(3)
        #expect(a.loss.bitPattern == b.loss.bitPattern)
        #expect(Self.deltaModules(fresh.adapters).map { $0.weight.array.map(\.bitPattern) }
                == Self.deltaModules(trainer.adapters).map { $0.weight.array.map(\.bitPattern) })
        #expect(trainer.adapters.extraStateFingerprint == fresh.adapters.extraStateFingerprint)
        // A LoRA run's checkpoint has no moved weights to resume Delta-LoRA from.
        let lora = try Self.trainer(Self.adapterConfig(method: .lora))
        #expect(throws: TinhError.self) { try lora.resume(from: trainer.outDirectory) }
    }

    @Test func mergedModelIsTheFineTunedModel() throws {
        let trainer = try Self.trainer(Self.adapterConfig(lambda: 1, start: 0))
        for t in 0..<3 { _ = try trainer.trainStep(t) }
        let model = trainer.loaded.model
        let merged = try DecoderModel(config: model.config, weights: Merge.mergedWeights(model: model, adapters: trainer.adapters))
        let tokens: [Int32] = [5, 9, 200, 3, 77, 41]
        let want = try model.logits(tokens: tokens).array, got = try merged.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(got, want, model.config)
        #expect(agree.ok, "merged logits differ by \(agree.relative) of the largest")
        // Merging only s·B·A into the original base (what the PEFT adapter alone gives) is another model.
        let original = try ModelSource.load("tiny:2").model
        let adapterOnly = try AdapterSet(model: original, config: Self.adapterConfig(method: .lora))
        adapterOnly.parameters.values.data.update(from: trainer.adapters.parameters.values.data, count: adapterOnly.parameters.count)
        let other = try original.logits(tokens: tokens).array
        let scale = Double(want.map(abs).max() ?? 0)
        #expect(Double(zip(want, other).map { abs($0 - $1) }.max() ?? 0) > 100 * agree.relative * scale, "the moved W matters")
    }

    @Test func badSettingsAreClearErrors() throws {
        let model = try TinyLlama.model(seed: 1)
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, options: DeltaLoRAOptions(lambda: .nan))) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, options: DeltaLoRAOptions(lambda: -1))) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, options: DeltaLoRAOptions(start: -2))) }
        // Configs saved before the Delta-LoRA fields existed still decode, with the defaults.
        let old = #"{"method":"lora","rank":8,"alpha":16,"rsLoRA":false,"targets":["q","v"],"seed":0}"#
        let decoded = try JSONDecoder().decode(AdapterConfig.self, from: Data(old.utf8))
        #expect(decoded == AdapterConfig())
    }
}
