import Foundation
import Testing
@testable import Tinh

@Suite struct LoRAPlusTests {
    /// On Adam's first step every element with a non-zero gradient moves by its group's rate times
    /// the gradient's sign (m̂ = g, v̂ = g²), so |ΔB| = ratio·lr and |ΔA| = lr elementwise.
    @Test func firstAdamStepMovesBRatioTimesFurtherThanA() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .loraPlus, rank: 3, targets: ["q", "v", "down"], seed: 2))
        var rng = SeededGenerator(seed: 8)
        for slot in set.parameters.slots where slot.group == "lora_B" {  // so A gets gradient too
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        let (tokens, targets, mask) = ModelFixture.batch(2, 7, vocab: c.vocabSize)
        try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: 7)
        model.backward(lossScale: 1)

        var config = TrainConfig(model: "tiny", data: "", out: "", adapter: set.config)
        config.weightDecay = 0
        #expect(config.loraPlusRatio == LoRAPlus.recommendedRatio)
        let ratio = config.loraPlusRatio, lr: Float = 1e-3
        let before = set.parameters.values.array, grads = set.parameters.grads.array
        let adam = AdamW(parameterCount: set.parameters.count)
        adam.step(params: set.parameters.values.data, grads: set.parameters.grads.data,
                  groups: LoRAPlus.groups(set, ratio: ratio, weightDecay: 0), lr: lr)
        let after = set.parameters.values.array
        var checked: [String: Int] = [:]
        for slot in set.parameters.slots {
            let expected = slot.group == "lora_B" ? ratio * lr : lr
            for i in slot.range where abs(grads[i]) > 1e-4 {
                let moved = after[i] - before[i]
                #expect(abs(abs(moved) - expected) <= 1e-3 * expected, "\(slot.name)[\(i - slot.offset)] moved \(moved), expected ±\(expected)")
                #expect((moved < 0) == (grads[i] > 0))
                checked[slot.group, default: 0] += 1
            }
        }
        #expect((checked["lora_A"] ?? 0) > 100 && (checked["lora_B"] ?? 0) > 100, "\(checked)")
    }

    @Test func ratioDefaultsByMethodAndIsANoOpWithLoRAFA() throws {
        #expect(TrainConfig(model: "m", data: "d", out: "o", adapter: AdapterConfig(method: .lora)).loraPlusRatio == 1)
        #expect(TrainConfig(model: "m", data: "d", out: "o", adapter: AdapterConfig(method: .loraPlus)).loraPlusRatio == 16)
        let c = ModelFixture.config()
        let fa = try AdapterSet(model: DecoderModel(config: c, weights: ModelFixture.weights(c)), config: AdapterConfig(method: .loraFA))
        #expect(!LoRAPlus.applies(to: fa.parameters))
        #expect(LoRAPlus.groups(fa, ratio: 16, weightDecay: 0).allSatisfy { $0.lrScale == 1 })
        #expect(LoRAPlus.note(ratio: 16, method: .loraFA, parameters: fa.parameters)?.contains("no effect") == true)
        let lora = try AdapterSet(model: DecoderModel(config: c, weights: ModelFixture.weights(c)), config: AdapterConfig(method: .lora))
        #expect(LoRAPlus.groups(lora, ratio: 4, weightDecay: 0).map(\.lrScale).contains(4))
        #expect(LoRAPlus.note(ratio: 1, method: .lora, parameters: lora.parameters) == nil)
    }
}
