import Foundation
import Testing
@testable import Tinh

@Suite struct AdaLoRATests {
    let tokens: [Int32] = [5, 9, 200, 3, 77]

    func model() throws -> DecoderModel {
        let c = ModelFixture.config()
        return try DecoderModel(config: c, weights: ModelFixture.weights(c))
    }

    func config(initR: Int = 4, settings: AdaLoRASettings = AdaLoRASettings(targetR: 2)) -> AdapterConfig {
        AdapterConfig(method: .adalora, rank: initR, alpha: 6, targets: AdapterConfig.targetOrder, seed: 9, options: AdaLoRAOptions(settings))
    }

    /// tiny with AdaLoRA on every projection and Λ, P, Q lively enough that every path carries gradient.
    func adaptedModel(settings: AdaLoRASettings = AdaLoRASettings(targetR: 2)) throws -> (DecoderModel, AdapterSet) {
        let model = try model()
        let set = try AdapterSet(model: model, config: config(settings: settings))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: slot.group == "lora_E" ? 0.5 : 0.2)
        }
        return (model, set)
    }

    @Test func gradientsOfPLambdaAndQMatchFiniteDifferences() throws {
        let (model, set) = try adaptedModel()
        AdapterGradientChecks.slots(model, set)
    }

    @Test func inputGradientIncludesTheAdapterPath() throws {
        AdapterGradientChecks.input(try adaptedModel().0, "dX with AdaLoRA")
    }

    /// R = w/(2M)·Σ(‖QQᵀ − I‖_F + ‖PᵀP − I‖_F): the gradient added to the buffer is R's, for P and Q
    /// (Λ has none), and the loss plus R has the loss's gradient plus R's.
    @Test func orthogonalityRegulariserGradientMatchesFiniteDifferences() throws {
        let (model, set) = try adaptedModel(settings: AdaLoRASettings(targetR: 2, orthRegWeight: 0.7))
        let adapters = set.modules.map { $0.adapter as! AdaLoRA }
        func regulariser() -> Double { adapters.reduce(0) { $0 + $1.regularizerValue() } }
        set.parameters.grads.zero()
        let added = set.method.addRegularizerGradient()
        #expect(abs(added - regulariser()) <= 1e-9 * added && added > 0)
        let grads = set.parameters.grads.array
        let checker = GradCheck(eps: 1e-2, tol: 1e-2, floorFraction: 2e-2, maxChecks: 12, lossNoise: 1e-6)
        var d = TestData(seed: 3)
        for slot in set.parameters.slots {
            let indices = d.sample(6, of: slot.count).map { slot.offset + $0 }
            if slot.group == "lora_E" {
                #expect(indices.allSatisfy { grads[$0] == 0 }, "Λ has no regulariser gradient")
                continue
            }
            checker.check(slot.name + " (regulariser)", param: set.parameters.values.data, analytic: grads, indices: indices, loss: regulariser)
        }
        // Together with the loss, as the trainer adds them: ∇(loss + R) on a few entries of every kind.
        let (t, targets, mask) = ModelFixture.batch(2, 7, vocab: model.config.vocabSize)
        func total() -> Double { try! model.forward(tokens: t, targets: targets, lossMask: mask, batch: 2, seq: 7).loss + regulariser() }
        set.parameters.grads.zero()
        _ = total()
        model.backward(lossScale: 1)
        set.method.addRegularizerGradient()
        let both = set.parameters.grads.array
        let some = set.parameters.slots.prefix(6).flatMap { s in d.sample(3, of: s.count).map { s.offset + $0 } }
        GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, lossNoise: ModelGradientTests.lossNoise)
            .check("loss + R", param: set.parameters.values.data, analytic: both, indices: some, loss: total)
    }

    @Test func freshAdapterLeavesTheModelUnchangedAndHasPEFTNames() throws {
        let model = try model()
        let before = try model.logits(tokens: tokens).array
        let set = try AdapterSet(model: model, config: config())
        #expect(try model.logits(tokens: tokens).array == before, "Λ = 0 at start")
        #expect(set.parameters.count == set.method.expectedTrainableCount())
        let names = set.parameters.slots.prefix(3).map(\.name)
        #expect(names == ["lora_A", "lora_E", "lora_B"].map { "base_model.model.model.layers.0.self_attn.q_proj." + $0 })
        let adapter = try #require(set.modules.first?.adapter as? AdaLoRA)
        #expect(adapter.scale == 6 / (4 + 1e-5), "PEFT's scaling: α / (init_r + 1e-5)")
    }

    /// The cubic schedule, and the masks it leads to from random sensitivities: init_r·M up to
    /// tinit, never increasing, exactly target_r·M from T − tfinal on, and the pruned Λ are 0.
    @Test func budgetFallsCubicallyToTheTargetAndStaysThere() throws {
        let settings = AdaLoRASettings(targetR: 2, tinit: 3, tfinal: 5, deltaT: 2, totalStep: 20)
        let (_, set) = try adaptedModel(settings: settings)
        let budget = try #require(set.adaLoRABudget)
        let m = set.modules.count
        #expect(budget.initialBudget == 4 * m && budget.targetBudget == 2 * m)
        var previous = Int.max
        var d = TestData(seed: 11)
        for t in 0..<20 {
            let (b, masks) = budget.schedule(step: t)
            #expect(b <= previous && b >= budget.targetBudget)
            previous = b
            if t <= 3 { #expect(b == budget.initialBudget && !masks) }
            if (4..<15).contains(t) { #expect(masks == (t % 2 == 0)) }
            // An optimizer step: new values and gradients, then the allocator.
            for i in 0..<set.parameters.count {
                set.parameters.values.data[i] += 0.01 * d.rng.nextNormal()
                set.parameters.grads.data[i] = d.rng.nextNormal()
            }
            set.method.afterOptimizerStep(step: t)
            if masks || t >= 15 { #expect(budget.totalRank <= b, "step \(t): \(budget.totalRank) kept, budget \(b)") }
            if t >= 15 { #expect(budget.totalRank == budget.targetBudget, "step \(t): total rank \(budget.totalRank)") }
        }
        #expect(budget.schedule(step: 15).budget == budget.targetBudget)
        for (index, (_, adapter)) in set.modules.enumerated() {
            let e = set.parameters.value((adapter as! AdaLoRA).slotE)
            for k in 0..<4 where budget.mask(index).data[k] == 0 { #expect(e[k] == 0) }
        }
    }

    /// Export keeps the kept triplets only (PEFT's resized tensors and rank_pattern); loading puts
    /// them back where they were, so the loaded model computes the trained one's logits.
    @Test func exportIsAPEFTAdaLoRAAdapterThatLoadsBack() throws {
        let settings = AdaLoRASettings(targetR: 2, tinit: 0, tfinal: 1, totalStep: 3)
        let (model, set) = try adaptedModel(settings: settings)
        var d = TestData(seed: 5)
        for t in 0..<3 {
            for i in 0..<set.parameters.count { set.parameters.grads.data[i] = d.rng.nextNormal() }
            set.method.afterOptimizerStep(step: t)
        }
        let budget = try #require(set.adaLoRABudget)
        #expect(budget.totalRank == budget.targetBudget)
        let trained = try model.logits(tokens: tokens).array
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-adalora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: dir)

        let config = try PEFTAdaLoRAConfig.read(path: dir.appendingPathComponent(PEFTExport.configFile).path)
        #expect(config.common.peftType == "ADALORA" && config.initR == 4 && config.settings.targetR == 2 && config.settings.tfinal == 1)
        let pattern = try #require(config.rankPattern)
        #expect(pattern.count == set.modules.count && pattern.values.allSatisfy { $0.count == 4 })
        #expect(pattern.values.reduce(0) { $0 + $1.filter { $0 }.count } == budget.targetBudget)
        let file = try SafeTensorsFile(path: dir.appendingPathComponent(PEFTExport.weightsFile).path)
        #expect(file.tensors.count == 3 * set.modules.count)
        let kept = try #require(pattern["model.layers.1.mlp.down_proj.lora_E"]).filter { $0 }.count
        let downB = try #require(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_B"))
        #expect(downB.shape == [model.config.hiddenSize, kept])
        #expect(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_E")?.shape == [kept, 1])

        let fresh = try self.model()
        let loaded = try PEFTAdapter.load(dir: dir.path, into: fresh)
        #expect(loaded.config.method == .adalora && loaded.config.rank == 4)
        #expect(loaded.adaLoRABudget?.maskFingerprint == budget.maskFingerprint)
        let again = try fresh.logits(tokens: tokens).array
        let worst = zip(trained, again).map { abs($0 - $1) }.max() ?? 0
        #expect(worst == 0, "the loaded AdaLoRA computes the same logits (worst difference \(worst))")
    }

    @Test func mergedWeightReproducesTheAdaptedLogits() throws {
        let (model, set) = try adaptedModel()
        let adapted = try model.logits(tokens: tokens).array
        let merged = try Merge.mergedWeights(model: model, adapters: set)
        set.detach()
        for block in model.blocks {
            for linear in block.linears { linear.f32Weight.data.update(from: merged[linear.name + ".weight"]!.data, count: linear.weight.count) }
        }
        let agree = RoundingBound.logitsAgree(try model.logits(tokens: tokens).array, adapted, model.config)
        #expect(agree.ok, "merged vs adapted logits differ by \(agree.relative) of the largest")
    }

    @Test func settingsThatCannotWorkAreClearErrors() throws {
        let model = try model()
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: config(settings: AdaLoRASettings(targetR: 5, totalStep: 10))) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: config(settings: AdaLoRASettings(tinit: 5, tfinal: 5, totalStep: 10))) }
        var lora = AdapterConfig(method: .lora)
        lora.options = AdaLoRAOptions()
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: lora) }
    }

    /// Without --target-r the target follows the rank (PEFT's 8 of 12), so `--rank 4` just works.
    @Test func defaultTargetRankFollowsTheRank() throws {
        #expect(AdaLoRASettings.defaultTargetR(initR: 12) == 8)
        #expect(AdaLoRASettings.defaultTargetR(initR: 4) == 3)
        #expect(AdaLoRASettings.defaultTargetR(initR: 1) == 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-adalora-\(UUID().uuidString)")
        try DemoTask.write(to: dir, trainCount: 8, validCount: 2, seed: 3)
        let result = try TestProcess.run([TestProcess.tinh, "train", "--model", "tiny", "--data", dir.appendingPathComponent("train.jsonl").path,
                                          "--out", dir.appendingPathComponent("out").path, "--method", "adalora", "--rank", "4",
                                          "--steps", "3", "--batch", "2", "--seq", "32", "--train-on-prompt"], timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("target_r 3"), "\(result.output)")
    }
}
