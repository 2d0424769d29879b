import Foundation
import Testing
@testable import Tinh

@Suite struct DoRATests {
    let batch = 2, seq = 7

    func model() throws -> DecoderModel {
        let c = ModelFixture.config()
        return try DecoderModel(config: c, weights: ModelFixture.weights(c))
    }

    /// tiny with DoRA on every projection, B non-zero and m moved off ‖W‖ so every path carries gradient.
    func adaptedModel() throws -> (DecoderModel, AdapterSet) {
        let model = try model()
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .dora, rank: 3, alpha: 6, targets: AdapterConfig.targetOrder, seed: 9))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots {
            let p = set.parameters.values.data + slot.offset
            if slot.group == "lora_B" { rng.fillNormal(p, count: slot.count, std: 0.3) }
            if slot.group == "lora_magnitude_vector" {
                for i in 0..<slot.count { p[i] *= 1 + 0.2 * rng.nextNormal() }
            }
        }
        return (model, set)
    }

    @Test func gradientsOfMagnitudeAAndBMatchFiniteDifferences() throws {
        let (model, set) = try adaptedModel()
        // The norm is detached (as in PEFT), so the finite difference of the loss through A and B
        // would include the norm's own dependence: check A, B with the norm frozen, m as is.
        AdapterGradientChecks.slots(model, set) { slot in
            for case let (_, dora as DoRA) in set.modules { dora.freezeNorms = slot.group != "lora_magnitude_vector" }
        }
    }

    @Test func inputGradientIncludesTheScaledPaths() throws {
        AdapterGradientChecks.input(try adaptedModel().0, "dX with DoRA")
    }

    @Test func freshAdapterLeavesTheModelUnchanged() throws {
        let model = try model()
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let before = try model.logits(tokens: tokens).array
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .dora, rank: 4, targets: ["q", "v", "down"]))
        #expect(try model.logits(tokens: tokens).array == before, "m = ‖W‖ and B = 0 at start: W′ = W")
        let m = try #require(set.parameters.slots.first { $0.group == "lora_magnitude_vector" })
        #expect(m.name == "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector" && m.shape == [model.blocks[0].projection("q_proj")!.outFeatures])
        #expect(set.parameters.count == set.method.expectedTrainableCount())
    }

    /// The norm from W's cached row norms and the rank-r terms equals the norm of W + s·B·A formed explicitly,
    /// and merging gives the weight whose plain forward matches the adapted one.
    @Test func mergedWeightReproducesTheAdaptedLogits() throws {
        let (model, set) = try adaptedModel()
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let adapted = try model.logits(tokens: tokens).array
        let merged = try Merge.mergedWeights(model: model, adapters: set)
        set.detach()
        for block in model.blocks {
            for linear in block.linears { linear.f32Weight.data.update(from: merged[linear.name + ".weight"]!.data, count: linear.weight.count) }
        }
        let plain = try model.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(plain, adapted, model.config)
        #expect(agree.ok, "merged vs adapted logits differ by \(agree.relative) of the largest")
    }

    /// The norm from W's cached row norms and the rank-r terms equals the row norm of W + s·B·A formed explicitly.
    @Test func lowRankNormEqualsTheExplicitNorm() throws {
        let (model, set) = try adaptedModel()
        _ = try model.logits(tokens: [5, 9, 200])
        for (name, adapter) in set.modules.prefix(7) {
            let dora = try #require(adapter as? DoRA)
            let linear = try #require(model.linear(named: name))
            let w = linear.weight.dequantized()
            dora.lora.addDelta(to: w.data)
            let n = linear.inFeatures
            for j in 0..<linear.outFeatures {
                let row = UnsafeBufferPointer(start: w.data + j * n, count: n)
                let explicit = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                #expect(abs(Double(dora.norm.data[j]) - explicit) <= 1e-5 * explicit, "\(name) row \(j)")
            }
        }
    }

    /// The start-of-run estimate equals the buffers' own accounting after a first step; the scaled
    /// gradient is one buffer for the whole model, so DoRA's scratch exceeds LoRA's by rows · widest out.
    @Test func activationEstimateIsExact() throws {
        let c = ModelFixture.config()
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        func measured(_ method: MethodID) throws -> (kept: Int, scratch: Int, estimate: (kept: Int, scratch: Int)) {
            let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
            _ = try AdapterSet(model: model, config: AdapterConfig(method: method, rank: 4, targets: AdapterConfig.targetOrder))
            let result = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq)
            model.backward(lossScale: 1)
            let m = model.activationMemory
            return (m.keptBytes, m.scratchBytes, model.activationEstimate(batch: batch, seq: seq, lossRows: result.count))
        }
        let dora = try measured(.dora), lora = try measured(.lora)
        #expect(dora.estimate.kept == dora.kept && dora.estimate.scratch == dora.scratch)
        #expect(dora.scratch - lora.scratch == batch * seq * max(c.intermediateSize, c.hiddenSize, c.numHeads * c.headDim) * 4)
    }

    @Test func exportIsAPEFTDoRAAdapterThatLoadsBack() throws {
        let (model, set) = try adaptedModel()
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let trained = try model.logits(tokens: tokens).array
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-dora-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: dir)
        let config = try PEFTAdapterConfig.read(path: dir.appendingPathComponent(PEFTExport.configFile).path)
        #expect(config.peftType == "LORA" && config.useDoRA && config.r == 3)
        let file = try SafeTensorsFile(path: dir.appendingPathComponent(PEFTExport.weightsFile).path)
        #expect(file.tensors.count == 3 * set.modules.count)
        #expect(file.tensors.contains { $0.name == "base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector" })

        let fresh = try self.model()
        let loaded = try PEFTAdapter.load(dir: dir.path, into: fresh)
        #expect(loaded.config.method == .dora)
        #expect(try fresh.logits(tokens: tokens).array == trained, "the loaded DoRA computes the same logits")
    }

    @Test func peftInMemoryMagnitudeNameIsAccepted() {
        #expect(PEFTAdapter.canonicalKey("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.default.weight")
                == "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector")
    }
}
