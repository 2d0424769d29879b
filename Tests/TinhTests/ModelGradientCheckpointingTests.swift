import Foundation
import Testing
@testable import Tinh

/// Gradient checkpointing (`setRecomputesBlocks`): backward re-runs each block's forward, so it
/// must give the same loss and bit for bit the same gradients as a step that kept everything,
/// for every method (each adapter saves its own products in forward), with less kept memory.
@Suite(.serialized) struct ModelGradientCheckpointingTests {
    struct Step { var loss: Double; var grads: [Float]; var dInput: [Float]; var kept: Int; var scratch: Int
                  var estimate: (kept: Int, scratch: Int) }

    func step(method: MethodID, targets: [String], recompute: Bool, chunkRows: Int,
              config c: DecoderConfig = ModelFixture.config(tied: true, kvHeads: 2, bias: false)) throws -> Step {
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        model.headChunkRows = chunkRows
        let adapters = try AdapterSet(model: model, config: AdapterConfig(method: method, rank: 2, targets: targets))
        // Non-zero B (and everything else trainable) so every gradient depends on the whole pass.
        var rng = SeededGenerator(seed: 21)
        rng.fillUniform(adapters.parameters.values.data, count: adapters.parameters.count, lo: -0.1, hi: 0.1)
        adapters.parameters.grads.zero()
        model.setRecomputesBlocks(recompute)
        let (batch, seq) = (2, 9)
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        var last: LossResult!
        // Two steps, so the second runs on buffers the first left behind (shared ones included).
        for _ in 0..<2 {
            adapters.parameters.grads.zero()
            last = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq)
            model.backward(lossScale: 0.5)
        }
        let m = model.activationMemory
        return Step(loss: last.loss, grads: Array(UnsafeBufferPointer(start: adapters.parameters.grads.data, count: adapters.parameters.count)),
                    dInput: Array(model.inputEmbeddingGrad), kept: m.keptBytes, scratch: m.scratchBytes,
                    estimate: model.activationEstimate(batch: batch, seq: seq, lossRows: last.count))
    }

    @Test(arguments: [(MethodID.lora, ["q", "v"]), (.lora, AdapterConfig.targetOrder), (.loraFA, ["q", "o", "down"]),
                      (.vera, ["q", "v"]), (.dora, ["k", "o", "gate"]), (.adalora, ["q", "v", "up"]),
                      (.deltaLoRA, ["q", "v"]), (.full, ["q", "v"])])
    func sameGradientsWithLessKeptMemory(method: MethodID, targets: [String]) throws {
        for chunkRows in [0, 5] {
            let plain = try step(method: method, targets: targets, recompute: false, chunkRows: chunkRows)
            let recomputed = try step(method: method, targets: targets, recompute: true, chunkRows: chunkRows)
            #expect(recomputed.loss == plain.loss)
            #expect(plain.grads.contains { $0 != 0 }, "\(method): no gradient at all")
            #expect(recomputed.grads == plain.grads, "\(method): gradients differ with gradient checkpointing")
            #expect(recomputed.dInput == plain.dInput)
            #expect(recomputed.kept < plain.kept, "\(method): kept \(recomputed.kept) vs \(plain.kept)")
            for s in [plain, recomputed] {
                #expect(s.estimate.kept == s.kept && s.estimate.scratch == s.scratch,
                        "\(method): estimate \(s.estimate) vs buffers (\(s.kept), \(s.scratch))")
            }
        }
    }

    /// The same in every family (their extra saved activations: q/k norm inputs, output-norm inputs,
    /// fused projections), and the start-of-run estimate still equals the buffers.
    @Test(arguments: FamilyFixture.families)
    func familiesGiveTheSameGradientsWithLessKeptMemory(family: String) throws {
        let c = try FamilyGradientTests.config(family)
        for method in [MethodID.lora, .full] {
            let targets = AdapterConfig.targets(for: c.spec.projections)
            let plain = try step(method: method, targets: targets, recompute: false, chunkRows: 5, config: c)
            let recomputed = try step(method: method, targets: targets, recompute: true, chunkRows: 5, config: c)
            #expect(recomputed.loss == plain.loss && recomputed.grads == plain.grads && recomputed.dInput == plain.dInput, "\(family) \(method)")
            #expect(recomputed.kept < plain.kept, "\(family) \(method)")
            for s in [plain, recomputed] {
                #expect(s.estimate.kept == s.kept && s.estimate.scratch == s.scratch,
                        "\(family) \(method): estimate \(s.estimate) vs buffers (\(s.kept), \(s.scratch))")
            }
        }
    }

    /// Turning it off again gives every block its own buffers back, and the same gradients.
    @Test func canBeSwitchedOff() throws {
        let c = ModelFixture.config()
        let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
        model.setRecomputesBlocks(true)
        #expect(model.blocks.allSatisfy { $0.acts === model.blocks[0].acts })
        model.setRecomputesBlocks(false)
        #expect(Set(model.blocks.map { ObjectIdentifier($0.acts) }).count == model.blocks.count)
    }
}
