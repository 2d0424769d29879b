import Foundation
import Testing
@testable import Tinh

@Suite struct LoRATests {
    let batch = 2, seq = 7

    /// tiny with LoRA on every projection, B made non-zero so every path carries gradient.
    func adaptedModel(rsLoRA: Bool = false) throws -> (DecoderModel, AdapterSet) {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let set = try AdapterSet(model: model, config: AdapterConfig(rank: 3, alpha: 6, rsLoRA: rsLoRA, targets: AdapterConfig.targetOrder, seed: 9))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        return (model, set)
    }

    @Test(arguments: [false, true]) func gradientsOfAAndBMatchFiniteDifferences(rsLoRA: Bool) throws {
        let (model, set) = try adaptedModel(rsLoRA: rsLoRA)
        AdapterGradientChecks.slots(model, set)
    }

    @Test func inputGradientIncludesTheAdapterPath() throws {
        AdapterGradientChecks.input(try adaptedModel().0, "dX with LoRA")
    }

    @Test func freshAdapterLeavesTheModelUnchanged() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let before = try model.logits(tokens: tokens).array
        let set = try AdapterSet(model: model, config: AdapterConfig(rank: 4, targets: ["q", "v", "down"]))
        #expect(try model.logits(tokens: tokens).array == before, "B = 0 at start: the adapted model is the base")
        #expect(set.modules.count == 3 * c.numLayers)
        #expect(set.parameters.slots.first?.name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        #expect(set.parameters.slots[0].shape == [4, c.hiddenSize] && set.parameters.slots[1].shape == [c.numHeads * c.headDim, 4])
        // A is Kaiming-uniform within ±1/√in.
        let a = UnsafeBufferPointer(start: set.parameters.values.data, count: set.parameters.slots[0].count)
        #expect(a.allSatisfy { abs($0) <= 1 / Float(c.hiddenSize).squareRoot() } && a.contains { $0 != 0 })
        set.detach()
        #expect(model.blocks[0].projection("q_proj")!.adapter == nil)
    }

    @Test func sameSeedSameInitOnEveryRank() throws {
        let c = ModelFixture.config()
        let one = try AdapterSet(model: DecoderModel(config: c, weights: ModelFixture.weights(c)), config: AdapterConfig(seed: 3))
        let two = try AdapterSet(model: DecoderModel(config: c, weights: ModelFixture.weights(c)), config: AdapterConfig(seed: 3))
        let other = try AdapterSet(model: DecoderModel(config: c, weights: ModelFixture.weights(c)), config: AdapterConfig(seed: 4))
        #expect(one.parameters.values.array == two.parameters.values.array)
        #expect(one.parameters.values.array != other.parameters.values.array)
    }

    @Test func badSettingsAreClearErrors() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        #expect(throws: TinhError.invalidInput("unknown target 'qq'; choose from q,k,v,o,gate,up,down")) {
            try AdapterSet(model: model, config: AdapterConfig(targets: ["qq"]))
        }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(rank: 65)) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(layers: [2])) }
        #expect(throws: TinhError.self) { try MethodID(parsing: "magic") }
        #expect(try AdapterConfig.parseLayers("0-2,5") == [0, 1, 2, 5])
        #expect(throws: TinhError.self) { try AdapterConfig.parseLayers("3-1") }
    }
}
