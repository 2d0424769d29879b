import Foundation
import Testing
@testable import Tinh

/// Backward stops after the lowest block with something trainable when nobody needs the input
/// gradient (the trainer's case): the same adapter gradients, and the skipped blocks' layer hooks
/// still fire (the bucketed all-reduce waits for them).
struct ModelBackwardStopTests {
    func grads(layers: [Int]?, needsInput: Bool) throws -> (grads: [Float], hooks: [Int], lowest: Int?) {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        let adapters = try AdapterSet(model: model, config: AdapterConfig(method: .lora, rank: 2, targets: ["q", "v", "down"], layers: layers))
        var rng = SeededGenerator(seed: 4)
        rng.fillUniform(adapters.parameters.values.data, count: adapters.parameters.count, lo: -0.1, hi: 0.1)
        adapters.parameters.grads.zero()
        model.needsInputGradient = needsInput
        var hooks: [Int] = []
        model.onLayerBackwardDone = { hooks.append($0) }
        let (tokens, targets, mask) = ModelFixture.batch(2, 6, vocab: c.vocabSize)
        _ = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: 6)
        model.backward(lossScale: 1)
        return (Array(UnsafeBufferPointer(start: adapters.parameters.grads.data, count: adapters.parameters.count)), hooks,
                model.lowestTrainableBlock)
    }

    @Test func skippedBlocksChangeNoGradient() throws {
        let c = ModelFixture.config()
        let upper = Array(1..<c.numLayers)
        let full = try grads(layers: upper, needsInput: true), stopped = try grads(layers: upper, needsInput: false)
        #expect(stopped.lowest == 1)
        #expect(full.grads.contains { $0 != 0 })
        #expect(stopped.grads == full.grads)
        #expect(stopped.hooks == Array((0...c.numLayers).reversed()))
        #expect(try grads(layers: nil, needsInput: false).lowest == 0)
    }
}
