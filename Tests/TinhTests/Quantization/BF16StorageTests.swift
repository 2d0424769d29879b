import Foundation
import Testing
@testable import Tinh

/// bf16 as storage only (`BF16Weight.Arithmetic.f32`, what a CPU without AVX512-BF16 or AMX gets):
/// every product is the f32 GEMM of the widened bf16 values, so a model of such weights computes
/// exactly what an f32 model of the bf16-rounded weights computes: bit-identical by construction
/// (same GEMM library, same operands, same shapes). Runs on every CPU.
@Suite struct BF16StorageTests {
    /// The f32 weights of tiny:3 with every projection rounded to bf16, and the same projections
    /// as widened-bf16 frozen weights.
    static func models(gemm: FrozenGEMM) throws -> (stored: DecoderModel, rounded: DecoderModel) {
        let c = TinyLlama.config
        var weights = TinyLlama.weights(config: c, seed: 3)
        var rounded = weights
        var frozen: [String: FrozenWeight] = [:]
        for name in weights.keys.sorted() where BasePrecision.appliesTo(name) {
            let w = try BF16Weight(rounding: weights[name]!, name: name, arithmetic: .f32)
            frozen[name] = w
            rounded[name] = w.dequantized()
            weights[name] = nil
        }
        return (try DecoderModel(config: c, weights: weights, frozen: frozen, gemm: gemm),
                try DecoderModel(config: c, weights: rounded, gemm: gemm))
    }

    @Test(arguments: FrozenGEMM.usable)
    func trainsExactlyAsTheF32ModelOfTheRoundedWeights(gemm: FrozenGEMM) throws {
        let (stored, rounded) = try Self.models(gemm: gemm)
        #expect(stored.basePrecision == .bf16 && stored.projectionBytes * 2 == rounded.projectionBytes)
        // The head stays f32: widening it for every chunk of rows would cost more than it saves.
        #expect(stored.lmHead.weight is F32Weight)
        for linear in stored.blocks.flatMap(\.linears) {
            let w = try #require(linear.weight as? BF16Weight)
            #expect(w.arithmetic == .f32 && w.floatScratch === stored.dequantizationScratch)
        }
        let tokens = QuantizedBaseTests.tokens
        #expect(try stored.logits(tokens: tokens).array == rounded.logits(tokens: tokens).array)

        // A LoRA step on each: the same loss and the same adapter gradients, bit for bit.
        let config = AdapterConfig(rank: 4, targets: ["q", "v", "down"], seed: 2)
        let a = try AdapterSet(model: stored, config: config), b = try AdapterSet(model: rounded, config: config)
        var rng = SeededGenerator(seed: 5)
        rng.fillNormal(a.parameters.values.data, count: a.parameters.count, std: 0.05)
        b.parameters.values.data.update(from: a.parameters.values.data, count: a.parameters.count)
        let targets = tokens.map { ($0 + 1) % Int32(TinyLlama.config.vocabSize) }
        let la = try stored.forward(tokens: tokens, targets: targets, batch: 1, seq: tokens.count)
        stored.backward(lossScale: 1)
        let lb = try rounded.forward(tokens: tokens, targets: targets, batch: 1, seq: tokens.count)
        rounded.backward(lossScale: 1)
        #expect(la.mean.bitPattern == lb.mean.bitPattern)
        #expect(a.parameters.grads.array == b.parameters.grads.array)
    }

    /// Loading `--base-precision bf16` picks the arithmetic by the CPU: bf16 where oneDNN has it,
    /// widened f32 elsewhere; either way the projections take half of f32's bytes.
    @Test func loadingPicksTheArithmeticByTheCPU() throws {
        let model = try ModelSource.load("tiny:3", basePrecision: .bf16).model
        let f32 = try ModelSource.load("tiny:3").model
        #expect(model.projectionBytes * 2 == f32.projectionBytes)
        for linear in model.blocks.flatMap(\.linears) {
            #expect((linear.weight as? BF16Weight)?.arithmetic == BF16Weight.Arithmetic.native)
        }
        #expect((model.lmHead.weight is BF16Weight) == BF16GEMM.isSupported)
    }
}
