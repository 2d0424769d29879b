import Foundation
import Testing
@testable import Tinh

@Suite struct LoRAFATests {
    let batch = 2, seq = 7

    func model() throws -> DecoderModel {
        let c = ModelFixture.config()
        return try DecoderModel(config: c, weights: ModelFixture.weights(c))
    }

    /// tiny with `method` on every projection; B made non-zero so every path carries gradient.
    func adapted(_ method: MethodID = .loraFA, projection: Bool = false, rsLoRA: Bool = false) throws -> (DecoderModel, AdapterSet) {
        let model = try model()
        let set = try AdapterSet(model: model, config: AdapterConfig(method: method, rank: 3, alpha: 6, rsLoRA: rsLoRA,
                                                                     targets: AdapterConfig.targetOrder, seed: 9, options: method == .loraFA ? LoRAFAOptions(projection: projection) : nil))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots where slot.group == "lora_B" {
            rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
        }
        return (model, set)
    }

    func frozenA(_ set: AdapterSet) -> [String: [Float]] { set.frozenTensors().mapValues(\.array) }

    @Test func onlyBTrainsAndAIsLoRAsA() throws {
        let (_, fa) = try adapted()
        let (_, lora) = try adapted(.lora)
        #expect(fa.parameters.slots.allSatisfy { $0.group == "lora_B" })
        #expect(fa.parameters.count == fa.method.expectedTrainableCount() && lora.parameters.count == lora.method.expectedTrainableCount())
        // The same seed draws the same A as LoRA's, kept outside the trainable buffer.
        for slot in lora.parameters.slots where slot.group == "lora_A" {
            let loraA = Array(UnsafeBufferPointer(start: lora.parameters.values.data + slot.offset, count: slot.count))
            #expect(frozenA(fa)[slot.name] == loraA, "\(slot.name)")
        }
        #expect(fa.frozenTensors().count == fa.modules.count)
    }

    @Test(arguments: [false, true]) func gradientsOfBAndInputMatchFiniteDifferences(rsLoRA: Bool) throws {
        let (model, set) = try adapted(rsLoRA: rsLoRA)
        AdapterGradientChecks.slots(model, set)
    }

    @Test func inputGradientIncludesTheAdapterPath() throws {
        AdapterGradientChecks.input(try adapted().0, "dX with LoRA-FA")
    }

    /// The projected gradient G′ = (1/s²)·G·(A·Aᵀ + δI)⁻¹ must satisfy s²·G′·(A·Aᵀ + δI) = G,
    /// checked in Double without any inverse.
    @Test func projectionMatchesADirectComputation() throws {
        let (model, set) = try adapted(projection: true)
        let (tokens, targets, mask) = ModelFixture.batch(batch, seq, vocab: model.config.vocabSize)
        try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq)
        model.backward(lossScale: 1)
        let raw = set.parameters.grads.array
        set.method.beforeOptimizerStep()
        let projected = set.parameters.grads.array
        let s = Double(set.config.scale), r = set.config.rank
        let frozen = set.frozenTensors()
        for slot in set.parameters.slots {
            let a = try #require(frozen[slot.name.replacingOccurrences(of: "lora_B", with: "lora_A")])
            let n = a.shape[1], out = slot.shape[0]
            var gram = [Double](repeating: 0, count: r * r)
            for i in 0..<r { for j in 0..<r { for t in 0..<n { gram[i * r + j] += Double(a.data[i * n + t]) * Double(a.data[j * n + t]) } } }
            for i in 0..<r { gram[i * r + i] += LoRAFA.projectionRidge }
            var worst = 0.0, scale = 0.0
            for row in 0..<out {
                for j in 0..<r {
                    var back = 0.0
                    for k in 0..<r { back += Double(projected[slot.offset + row * r + k]) * gram[k * r + j] }
                    let g = Double(raw[slot.offset + row * r + j])
                    worst = max(worst, abs(s * s * back - g))
                    scale = max(scale, abs(g))
                }
            }
            #expect(scale > 0 && worst <= 1e-4 * scale, "\(slot.name): s²·G′·(AAᵀ+δI) differs from G by \(worst) (scale \(scale))")
        }
        // Without the flag the gradient is left alone.
        let (plainModel, plain) = try adapted()
        try plainModel.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq)
        plainModel.backward(lossScale: 1)
        let before = plain.parameters.grads.array
        plain.method.beforeOptimizerStep()
        #expect(plain.parameters.grads.array == before && before == raw)
        #expect(throws: TinhError.self) {
            try AdapterSet(model: try self.model(), config: AdapterConfig(method: .lora, options: LoRAFAOptions(projection: true)))
        }
    }

    /// The activation buffers' own accounting after one step on fresh models: LoRA-FA never keeps
    /// more than LoRA. Tinh's LoRA keeps no input of its own: the norm-fed inputs (of q/k/v and
    /// gate/up) and down's are recomputed from what the frozen base keeps anyway, and o_proj's (the
    /// attention output) is kept for the fused attention's backward in every run. So the two keep
    /// the same bytes and LoRA-FA saves the recomputation and the dA GEMMs instead.
    @Test(arguments: [["q", "k", "v", "o", "gate", "up", "down"], ["o"], ["q", "v"]])
    func activationAccountingShowsTheSaving(targets: [String]) throws {
        let c = ModelFixture.config(), r = 4
        let (tokens, targets_, mask) = ModelFixture.batch(batch, seq, vocab: c.vocabSize)
        func measured(_ method: MethodID) throws -> (kept: Int, scratch: Int, estimate: (kept: Int, scratch: Int)) {
            let model = try DecoderModel(config: c, weights: ModelFixture.weights(c))
            _ = try AdapterSet(model: model, config: AdapterConfig(method: method, rank: r, targets: targets))
            let result = try model.forward(tokens: tokens, targets: targets_, lossMask: mask, batch: batch, seq: seq)
            model.backward(lossScale: 1)
            let m = model.activationMemory
            return (m.keptBytes, m.scratchBytes, model.activationEstimate(batch: batch, seq: seq, lossRows: result.count))
        }
        let lora = try measured(.lora), fa = try measured(.loraFA)
        // The start-of-run estimate is exact for a fresh model's first step.
        #expect(lora.estimate.kept == lora.kept && lora.estimate.scratch == lora.scratch)
        #expect(fa.estimate.kept == fa.kept && fa.estimate.scratch == fa.scratch)

        #expect(fa.kept == lora.kept, "LoRA keeps \(lora.kept) B, LoRA-FA \(fa.kept) B")
    }

    @Test func exportIsAPEFTLoRAAdapterThatLoadsBack() throws {
        let (model, set) = try adapted()
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let trained = try model.logits(tokens: tokens).array
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-lorafa-\(UUID().uuidString)")
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: dir)
        let config = try PEFTAdapterConfig.read(path: dir.appendingPathComponent(PEFTExport.configFile).path)
        #expect(config.peftType == "LORA" && config.r == 3)
        let file = try SafeTensorsFile(path: dir.appendingPathComponent(PEFTExport.weightsFile).path)
        #expect(file.tensors.count == 2 * set.modules.count)

        let fresh = try self.model()
        let loaded = try PEFTAdapter.load(dir: dir.path, into: fresh)
        #expect(loaded.config.method == .lora)
        let again = try fresh.logits(tokens: tokens).array
        #expect(again == trained, "a LoRA loaded from the LoRA-FA export computes the same logits")
    }
}
