import Foundation
@testable import Tinh

/// A tiny model with a LoRA adapter and an optimizer whose state is not trivial.
enum CheckpointFixture {
    static let adapterConfig = AdapterConfig(rank: 4, alpha: 8, targets: ["q", "v", "down"], seed: 5)

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// tiny:seed with an adapter whose B is non-zero, so it changes the logits.
    static func adaptedModel(config: AdapterConfig = adapterConfig, seed: UInt64 = 0, fillSeed: UInt64 = 11) throws -> (DecoderModel, AdapterSet) {
        let model = try TinyLlama.model(seed: seed)
        let set = try AdapterSet(model: model, config: config)
        var rng = SeededGenerator(seed: fillSeed)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.2)
        }
        return (model, set)
    }

    /// An optimizer that has taken `steps` steps on random gradients.
    static func trainedOptimizer(_ set: AdapterSet, steps: Int = 3, seed: UInt64 = 2) -> AdamW {
        let opt = AdamW(parameterCount: set.parameters.count, beta2: 0.995)
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<steps {
            rng.fillNormal(set.parameters.grads.data, count: set.parameters.count, std: 1)
            opt.step(params: set.parameters.values.data, grads: set.parameters.grads.data, groups: set.optimizerGroups(), lr: 1e-3)
        }
        return opt
    }

    static func trainerState(step: Int) -> Data {
        Data("{\"model\":\"tiny\",\"rng\":[1,2,3],\"cursor\":{\"epoch\":0,\"step\":\(step)},\"loss\":[2.5,2.25]}".utf8)
    }
}
