import Foundation
import Testing
@testable import Tinh

@Suite struct PiSSATests {
    let tokens: [Int32] = [5, 9, 200, 3, 77, 41]

    func model() throws -> DecoderModel {
        let c = ModelFixture.config()
        return try DecoderModel(config: c, weights: ModelFixture.weights(c))
    }

    func pissa(rank: Int = 4, rsLoRA: Bool = false) -> AdapterConfig {
        AdapterConfig(method: .lora, rank: rank, alpha: 6, rsLoRA: rsLoRA, targets: AdapterConfig.targetOrder, seed: 3, options: LoRAOptions(pissa: true))
    }

    @Test func svdReconstructsTheMatrixWithOrthonormalFactors() throws {
        var d = TestData(seed: 8)
        for (rows, cols) in [(7, 5), (5, 9), (6, 6)] {
            let w = d.tensor([rows, cols])
            let (u, s, vt) = try SVD.thin(w.data, rows: rows, cols: cols)
            let k = min(rows, cols)
            #expect(s.count == k && zip(s, s.dropFirst()).allSatisfy { $0 >= $1 } && s.last! >= 0, "descending, non-negative")
            for i in 0..<rows {
                for j in 0..<cols {
                    let x = (0..<k).reduce(0.0) { $0 + Double(u.data[i * k + $1]) * Double(s[$1]) * Double(vt.data[$1 * cols + j]) }
                    #expect(abs(x - Double(w.data[i * cols + j])) < 1e-4, "(\(i), \(j)) of \(rows)×\(cols)")
                }
            }
            for a in 0..<k {
                for b in 0..<k {
                    let uu = (0..<rows).reduce(0.0) { $0 + Double(u.data[$1 * k + a]) * Double(u.data[$1 * k + b]) }
                    let vv = (0..<cols).reduce(0.0) { $0 + Double(vt.data[a * cols + $1]) * Double(vt.data[b * cols + $1]) }
                    #expect(abs(uu - (a == b ? 1 : 0)) < 1e-5 && abs(vv - (a == b ? 1 : 0)) < 1e-5)
                }
            }
        }
    }

    /// W_res + s·B₀·A₀ = W: the model starts as the base model; s·B₀·A₀ is W's top-r part, so the
    /// residual's largest singular value is W's (r+1)-th. Only the adapted weights became private.
    @Test func stepZeroComputesTheBaseModel() throws {
        let model = try model()
        let base = try model.logits(tokens: tokens).array
        let original = model.blocks[0].projection("q_proj")!.weight.dequantized()
        let (_, s, _) = try SVD.thin(original.data, rows: original.shape[0], cols: original.shape[1])
        let set = try AdapterSet(model: model, config: pissa(rank: 4))
        let adapted = try model.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(adapted, base, model.config)
        #expect(agree.ok, "PiSSA at step 0 vs the base: logits differ by \(agree.relative) of the largest")
        let residual = model.blocks[0].projection("q_proj")!.f32Weight
        #expect(model.blocks[0].projection("q_proj")!.weight.precision == .f32, "the residual is a private Float32 copy")
        let (_, sr, _) = try SVD.thin(residual.data, rows: residual.shape[0], cols: residual.shape[1])
        #expect(abs(sr[0] - s[4]) <= 1e-4 * s[0], "residual's top singular value \(sr[0]) vs W's 5th \(s[4])")
        #expect(set.frozenTensors().count == 2 * set.modules.count)
        // A₀ = diag(√(S/s))·Vᵀ: its first row has squared norm S₀/s.
        let a = set.parameters.values.data + set.parameters.slots[0].offset
        let n = original.shape[1]
        let norm = (0..<n).reduce(0.0) { $0 + Double(a[$1]) * Double(a[$1]) }
        #expect(abs(norm - Double(s[0] / (6 / 4))) <= 1e-4 * norm)
    }

    /// The export is PEFT's conversion: a rank-2r LoRA that, applied to the ORIGINAL base, gives
    /// the trained model (W_res + s·B·A) — with and without rsLoRA.
    @Test(arguments: [false, true]) func exportAppliesToTheOriginalBase(rsLoRA: Bool) throws {
        let model = try model()
        let set = try AdapterSet(model: model, config: pissa(rank: 3, rsLoRA: rsLoRA))
        var rng = SeededGenerator(seed: 21)
        for i in 0..<set.parameters.count { set.parameters.values.data[i] += 0.05 * rng.nextNormal() }  // "training"
        let trained = try model.logits(tokens: tokens).array
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-pissa-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTExport.write(adapters: set, baseModelName: "tiny", to: dir)
        let config = try PEFTAdapterConfig.read(path: dir.appendingPathComponent(PEFTExport.configFile).path)
        #expect(config.peftType == "LORA" && config.r == 6 && config.useRSLoRA == rsLoRA)
        #expect(config.loraAlpha == (rsLoRA ? 6 * Float(2).squareRoot() : 12))
        let file = try SafeTensorsFile(path: dir.appendingPathComponent(PEFTExport.weightsFile).path)
        #expect(file.tensors.count == 2 * set.modules.count, "only lora_A and lora_B, no initial tensors")
        #expect(file.info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")?.shape == [6, model.config.hiddenSize])

        let original = try self.model()
        _ = try PEFTAdapter.load(dir: dir.path, into: original)
        let applied = try original.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(applied, trained, original.config)
        #expect(agree.ok, "converted adapter on the original base vs the trained model: \(agree.relative) of the largest")
    }

    @Test func pissaOnOtherMethodsIsAClearError() throws {
        let model = try model()
        var config = pissa()
        config.method = .dora
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: config) }
        #expect(throws: TinhError.invalidInput("--init applies to --method lora, lora-plus only (this run uses dora)")) {
            try AdapterConfig.fromFlags(method: .dora, rank: 4, alpha: 8, rsLoRA: false, targets: ["q"], layers: nil, seed: 0,
                                        basePrecision: nil, flags: MethodFlagValues.parse(["--init", "pissa"]), steps: 2)
        }
        #expect(throws: TinhError.self) { try LoRAOptions(flags: MethodFlagValues.parse(["--init=olora"]), rank: 4, steps: 2) }
    }
}
