import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// A model whose frozen projections are quantized: close to f32, trainable with LoRA on top,
/// exact against an f32 model holding the dequantized weights, and small in memory.
@Suite struct QuantizedBaseTests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-qlora-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 24, validCount: 4, seed: 5)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    static let tokens: [Int32] = [5, 9, 200, 3, 77, 411, 12, 64, 300, 2]

    static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
        return (num / den).squareRoot()
    }

    /// Logits of tiny:3 with a quantized base against f32: relative L2 distance ≤ 13% for nf4
    /// (measured 11.2%), ≤ 12% for q4 = Q4_0 (10.0%), ≤ 1% for q8 (0.56%). Tiny's weights are
    /// N(0, 0.02): per weight, NF4 with blocks of 64 has a relative RMS error of about 9% on
    /// Gaussian values, Q4_0 with blocks of 32 about 8.6% (the same computed in numpy).
    @Test(arguments: [(BasePrecision.nf4, 0.13), (.q8, 0.01), (.q4, 0.12)])
    func logitsAreCloseToF32(precision: BasePrecision, tolerance: Double) throws {
        let f32 = try ModelSource.load("tiny:3").model.logits(tokens: Self.tokens).array
        let model = try ModelSource.load("tiny:3", basePrecision: precision).model
        #expect(model.basePrecision == precision)
        let quantized = try model.logits(tokens: Self.tokens).array
        let distance = Self.relativeL2(quantized, f32)
        #expect(distance <= tolerance && distance > 0, "\(precision): relative L2 of the logits \(distance)")
    }

    /// Resident bytes of the 7 projections per block: nf4 ≤ 1/5 of f32, every projection
    /// quantized, embedding and head still f32, and one shared dequantization buffer sized for
    /// the largest projection.
    @Test func nf4ProjectionsHoldAFifthOfF32OrLess() throws {
        let f32 = try ModelSource.load("tiny:3").model
        let nf4 = try ModelSource.load("tiny:3", basePrecision: .nf4).model
        #expect(f32.projectionBytes == f32.blocks.flatMap(\.linears).reduce(0) { $0 + $1.outFeatures * $1.inFeatures * 4 })
        #expect(nf4.projectionBytes * 5 <= f32.projectionBytes, "nf4 \(nf4.projectionBytes) B vs f32 \(f32.projectionBytes) B")
        let ratio = Double(f32.projectionBytes) / Double(nf4.projectionBytes)
        #expect(ratio > 7.7 && ratio < 7.8, "4.127 bits per weight: \(ratio)× smaller")
        for linear in nf4.blocks.flatMap(\.linears) {
            let q = try #require(linear.weight as? BlockQuantizedWeight, "\(linear.name) is not quantized")
            #expect(q.format == .nf4 && q.scratch === nf4.dequantizationScratch)
        }
        #expect(nf4.lmHead.weight is F32Weight)
        let largest = nf4.blocks.flatMap(\.linears).map { $0.outFeatures * $0.inFeatures }.max()!
        #expect(nf4.dequantizationScratch.bytes == largest * 4)
    }

    /// Forward y and backward dx through a quantized Linear equal, bit for bit, those of an f32
    /// Linear holding the dequantized weights; dx also matches finite differences.
    @Test(arguments: [BlockQuantizedWeight.Format.nf4, .q8_0, .q4_0])
    func quantizedLinearMatchesTheF32LinearOfItsValues(format: BlockQuantizedWeight.Format) throws {
        var d = TestData(seed: 30)
        let (rows, inF, outF) = (5, 128, 64)
        let q = try BlockQuantizedWeight(quantizing: d.tensor([outF, inF], std: 0.05), format: format)
        let quantized = Linear(name: "q", frozen: q), plain = Linear(name: "f", weight: q.dequantized())
        let x = d.tensor([rows, inF]), dy = d.normal(rows * outF)
        let y1 = Tensor(shape: [rows, outF]), y2 = Tensor(shape: [rows, outF])
        quantized.forward(x.data, y1.data, rows: rows)
        plain.forward(x.data, y2.data, rows: rows)
        #expect(y1.array.map(\.bitPattern) == y2.array.map(\.bitPattern))
        let dx1 = Tensor(shape: x.shape), dx2 = Tensor(shape: x.shape)
        dx1.fill(0.5); dx2.fill(0.5)
        quantized.backward(dy, dx1.data, input: x.data, rows: rows, accumulate: true)
        plain.backward(dy, dx2.data, input: x.data, rows: rows, accumulate: true)
        #expect(dx1.array.map(\.bitPattern) == dx2.array.map(\.bitPattern))
        func loss() -> Double { quantized.forward(x.data, y1.data, rows: rows); return weightedSum(y1.data, dy) }
        GradCheck().check("\(format) linear dx", param: x.data, analytic: dx1.array.map { $0 - 0.5 }, loss: loss)
    }

    static func config(_ method: MethodID, precision: BasePrecision? = nil, out: String? = nil, steps: Int = 12) -> TrainConfig {
        let adapter = AdapterConfig(method: method, rank: 4, alpha: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"], seed: 3,
                                    basePrecision: precision)
        var c = TrainConfig(model: "tiny:2", data: data, out: out ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("tinh-qlora-run-\(UUID().uuidString)").path, adapter: adapter)
        c.steps = steps; c.batch = 4; c.seq = 48; c.lr = 1e-2; c.validFraction = 0.1; c.saveEvery = 4
        return c
    }

    /// `--method qlora` trains LoRA on an nf4 base: the loss falls, the export is a PEFT LoRA plus
    /// the record of the base's quantization.
    @Test func qloraTrainsAndExportsPEFTLoRAWithItsBaseRecord() throws {
        let config = Self.config(.qlora)
        let trainer = try Trainer(config: config, comm: LocalCommunicator())
        #expect(trainer.loaded.model.basePrecision == .nf4)
        #expect(trainer.startSummary.contains("base nf4: projection weights"))
        var losses: [Double] = []
        try trainer.run { if case .step(let m, _, _) = $0 { losses.append(m.loss) } }
        #expect(losses.count == 12)
        let early: Double = losses.prefix(3).reduce(0, +), late: Double = losses.suffix(3).reduce(0, +)
        #expect(late < early * 0.97, "losses \(losses)")
        let adapter = URL(fileURLWithPath: config.out).appendingPathComponent("adapter")
        let peft = try PEFTAdapterConfig.read(path: adapter.appendingPathComponent(PEFTExport.configFile).path)
        #expect(peft.peftType == "LORA" && !peft.useDoRA && peft.r == 4)
        let record = try #require(try BaseQuantizationRecord.read(directory: adapter.path))
        #expect(record.basePrecision == .nf4 && record.method == MethodID.qlora.name && record.quantizedModules.count == 7)
        #expect(record.format["block_size"] == "64" && record.format["double_quant"] == "true")
        // The same adapter loads onto the nf4 base and gives the trained model's logits.
        let fresh = try ModelSource.load("tiny:2", basePrecision: .nf4)
        _ = try PEFTAdapter.load(dir: adapter.path, into: fresh.model)
        let a = try fresh.model.logits(tokens: Self.tokens).array, b = try trainer.loaded.model.logits(tokens: Self.tokens).array
        #expect(Self.relativeL2(a, b) < 1e-5)
    }

    /// The checkpoint records the base precision; resuming on another base is refused.
    @Test func resumeOnAnotherBasePrecisionIsRefused() throws {
        let first = Self.config(.lora, precision: .nf4, steps: 4)
        try Trainer(config: first, comm: LocalCommunicator()).run()
        let state = try Checkpoints.read(URL(fileURLWithPath: first.out)).state
        #expect(state.adapter.resolvedBasePrecision == .nf4)
        for other in [BasePrecision.f32, .q8] {
            var again = first
            again.adapter.basePrecision = other
            again.steps = 8
            let trainer = try Trainer(config: again, comm: LocalCommunicator())
            #expect {
                try trainer.run(resumeFrom: URL(fileURLWithPath: first.out))
            } throws: { "\($0)".contains("base precision: checkpoint nf4, this run \(other)") }
        }
        #expect(throws: TinhError.self) { try Self.config(.qlora, precision: .q8).adapter.validate(for: TinyLlama.config) }
    }

    /// Delta-LoRA writes W: on a quantized base the Linears it adapts get private f32 copies of
    /// the dequantized values, the rest stay quantized.
    @Test func deltaLoRAOnAQuantizedBaseCopiesOnlyItsLinearsToF32() throws {
        let model = try ModelSource.load("tiny:2", basePrecision: .nf4).model
        let q = model.blocks[1].projection("q_proj")!, k = model.blocks[1].projection("k_proj")!
        let before = q.weight.dequantized().array
        _ = try AdapterSet(model: model, config: AdapterConfig(method: .deltaLoRA, rank: 2, targets: ["q"], layers: [1]))
        let copy = try #require(q.weight as? F32Weight)
        #expect(copy.tensor.array == before)
        #expect(k.weight is BlockQuantizedWeight && model.blocks[0].projection("q_proj")!.weight is BlockQuantizedWeight)
    }
}

extension QuantizedBaseTests {
    /// `tinh bench --method qlora` loads the base in nf4, as training does.
    @Test func benchmarkOfQLoRARunsOnAnNF4Base() throws {
        var o = TrainingBenchmark.Options(model: "tiny:1", adapter: AdapterConfig(method: .qlora, rank: 4, targets: ["q", "v"]))
        o.batch = 2; o.seq = 32; o.steps = 1; o.warmup = 0; o.threads = nil; o.probeSeconds = 0.01
        let r = try TrainingBenchmark.run(o, comm: LocalCommunicator())
        #expect(r.tokensPerSecond > 0)
    }
}
