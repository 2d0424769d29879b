import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// A bf16 frozen base (`--base-precision bf16`): projections and LM head held in bf16 and
/// multiplied by oneDNN. Close to f32, exact in the sense of the bf16 error bound against an f32
/// model of the rounded weights, and trainable with LoRA on top.
@Suite struct BF16BaseTests {
    /// Σ_k |a_ik||b_kj| for C = A·op(B): the scale of each entry's rounding error.
    static func absProduct(_ a: Tensor, _ b: Tensor, rows: Int, n: Int, k: Int, transB: BLAS.Transpose) -> Tensor {
        let aa = Tensor(shape: a.shape), bb = Tensor(shape: b.shape), s = Tensor(shape: [rows, n])
        for i in 0..<a.count { aa[i] = abs(a[i]) }
        for i in 0..<b.count { bb[i] = abs(b[i]) }
        BLAS.gemm(.none, transB, m: rows, n: n, k: k, a: aa.data, b: bb.data, c: s.data)
        return s
    }

    /// Forward y and backward dx of a bf16 Linear against an f32 Linear holding the same
    /// bf16-rounded W: only the rounding of x (forward) or dy (backward) to bf16 differs, so each
    /// entry is within 2⁻⁸·Σ|x||w| (resp. 2⁻⁸·Σ|dy||w|) plus the two f32 sums' 2γ_n·Σ (n = k, + 1
    /// for the accumulated dx, whose C = 0.5 is one more term). dx of the f32 Linear matches finite
    /// differences (`ModelLinearTests`); here with accumulate too.
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func bf16LinearMatchesTheF32LinearOfItsRoundedWeights() throws {
        var d = TestData(seed: 31)
        let (rows, inF, outF) = (6, 96, 40)
        let w16 = try BF16Weight(rounding: d.tensor([outF, inF], std: 0.05))
        let rounded = w16.dequantized()
        let bf16 = Linear(name: "b", frozen: w16), plain = Linear(name: "f", weight: rounded)
        #expect(w16.withFloats { Array(UnsafeBufferPointer(start: $0, count: rounded.count)) } == rounded.array)
        let x = d.tensor([rows, inF]), dy = d.tensor([rows, outF])
        let y1 = Tensor(shape: [rows, outF]), y2 = Tensor(shape: [rows, outF])
        bf16.forward(x.data, y1.data, rows: rows)
        plain.forward(x.data, y2.data, rows: rows)
        let ys = Self.absProduct(x, rounded, rows: rows, n: outF, k: inF, transB: .transpose)
        for i in 0..<y1.count {
            let bound = (RoundingBound.uBF16 + 2 * RoundingBound.gamma(inF)) * Double(ys[i])
            #expect(Double(abs(y1[i] - y2[i])) <= bound, "y[\(i)]: \(y1[i]) vs \(y2[i]), scale \(ys[i])")
        }
        let dx1 = Tensor(shape: x.shape), dx2 = Tensor(shape: x.shape)
        dx1.fill(0.5); dx2.fill(0.5)
        bf16.backward(dy.data, dx1.data, input: x.data, rows: rows, accumulate: true)
        plain.backward(dy.data, dx2.data, input: x.data, rows: rows, accumulate: true)
        let dxs = Self.absProduct(dy, rounded, rows: rows, n: inF, k: outF, transB: .none)
        var worst = 0.0
        for i in 0..<dx1.count {
            let err = Double(abs(dx1[i] - dx2[i]))
            worst = max(worst, err / Double(dxs[i]))
            let bound = RoundingBound.uBF16 * Double(dxs[i]) + 2 * RoundingBound.gamma(outF + 1) * (Double(dxs[i]) + 0.5)
            #expect(err <= bound, "dx[\(i)]: \(dx1[i]) vs \(dx2[i]), scale \(dxs[i])")
        }
        #expect(worst > 0, "dy was rounded to bf16, so dx differs from f32 somewhere")
    }

    /// Logits of tiny:3 with a bf16 base (projections and head) against f32: relative L2 distance
    /// below 1% (W and the activations keep 8 significant bits; measured 0.34%).
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func logitsAreCloseToF32() throws {
        let f32 = try ModelSource.load("tiny:3").model.logits(tokens: QuantizedBaseTests.tokens).array
        let model = try ModelSource.load("tiny:3", basePrecision: .bf16).model
        #expect(model.basePrecision == .bf16)
        let bf16 = try model.logits(tokens: QuantizedBaseTests.tokens).array
        let distance = QuantizedBaseTests.relativeL2(bf16, f32)
        #expect(distance < 0.01 && distance > 0, "relative L2 of the logits \(distance)")
    }

    /// Every projection and the (tied) head are bf16 and share the model's scratch buffers; the
    /// embedding table the lookup reads stays f32; projections take half of f32's bytes.
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func projectionsAndHeadAreBF16WithSharedScratch() throws {
        let f32 = try ModelSource.load("tiny:3").model
        let model = try ModelSource.load("tiny:3", basePrecision: .bf16).model
        #expect(model.projectionBytes * 2 == f32.projectionBytes)
        for linear in model.linears {
            let w = try #require(linear.weight as? BF16Weight, "\(linear.name) is not bf16")
            #expect(w.inputScratch === model.bf16Scratch)
            #expect(w.floatScratch === (linear === model.lmHead ? nil : model.dequantizationScratch))
        }
        #expect(model.isTied && model.embedTokens.array == f32.embedTokens.array)
        let again = try ModelSource.load("tiny:3", basePrecision: .bf16).model
        #expect(model.fingerprint != f32.fingerprint && model.fingerprint == again.fingerprint)
        let record = BaseQuantizationRecord(AdapterConfig(basePrecision: .bf16))
        #expect(record.quantizedModules.contains("lm_head") && !record.keptFloat32.contains("lm_head"))
    }

    /// LoRA on a bf16 base trains (the loss falls) and its eval loss is close to the same run on f32.
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func loraOnABF16BaseTrainsLikeF32() throws {
        var results: [BasePrecision: (losses: [Double], eval: Double)] = [:]
        for precision in [BasePrecision.f32, .bf16] {
            var config = QuantizedBaseTests.config(.lora, precision: precision)
            config.saveEvery = 0
            let trainer = try Trainer(config: config, comm: LocalCommunicator())
            #expect(trainer.loaded.model.basePrecision == precision)
            var losses: [Double] = []
            try trainer.run { if case .step(let m, _, _) = $0 { losses.append(m.loss) } }
            results[precision] = (losses, try #require(trainer.summary?.eval?.loss))
        }
        let bf16 = try #require(results[.bf16]), f32 = try #require(results[.f32])
        #expect(bf16.losses.count == 12)
        let early: Double = bf16.losses.prefix(3).reduce(0, +), late: Double = bf16.losses.suffix(3).reduce(0, +)
        #expect(late < early * 0.97, "bf16 losses \(bf16.losses)")
        #expect(abs(bf16.eval - f32.eval) / f32.eval < 0.01, "eval loss bf16 \(bf16.eval) vs f32 \(f32.eval)")
    }

    /// Where oneDNN may not use AVX512-BF16 (forced here by capping its ISA below bf16), a bf16
    /// base is storage only, and the run says so at start instead of failing or hiding it.
    @Test(.enabled(if: BF16GEMM.isCompiled, "needs a build with oneDNN"))
    func withoutBF16ArithmeticTheBaseIsWidenedAndSaysSo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bf16-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try DemoTask.write(to: dir.appendingPathComponent("data"), trainCount: 8, validCount: 2, seed: 1)
        let r = try TestProcess.run([TestProcess.tinh, "train", "--model", "tiny", "--data", dir.appendingPathComponent("data/train.jsonl").path,
                                     "--out", dir.appendingPathComponent("out").path, "--steps", "1", "--batch", "2", "--seq", "32",
                                     "--base-precision", "bf16"],
                                    environment: ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "DNNL_MAX_CPU_ISA": "AVX512_CORE"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("base bf16: projection weights") && r.output.contains("this CPU has no bf16 arithmetic: widened to f32 per layer"), "\(r.output)")
    }

    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func stepBenchmarkTimesBothPrecisions() throws {
        let rows = try BasePrecisionBenchmark.run(spec: "tiny", adapter: AdapterConfig(method: .lora, rank: 2, targets: ["q", "v"]),
                                                  batch: 1, seq: 8, iterations: 1, warmup: 0)
        #expect(rows.map(\.precision) == ["f32", "bf16"])
        #expect(rows.allSatisfy { $0.tokensPerSecond > 0 && $0.stepSeconds > 0 })
        #expect(throws: TinhError.self) { try BasePrecisionBenchmark.run(spec: "tiny", adapter: AdapterConfig(), batch: 1, seq: 8, iterations: 0) }
    }

    /// `tinh bench --base-precision bf16` runs the trainer's step on a bf16 base and says so.
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func trainingBenchmarkRunsOnABF16Base() throws {
        var o = TrainingBenchmark.Options(model: "tiny:1", adapter: AdapterConfig(method: .lora, rank: 4, targets: ["q", "v"], basePrecision: .bf16))
        o.batch = 1; o.seq = 16; o.steps = 1; o.warmup = 0; o.threads = nil; o.probeSeconds = 0.01
        let r = try TrainingBenchmark.run(o, comm: LocalCommunicator())
        #expect(r.tokensPerSecond > 0)
        #expect(r.summary.contains("bf16 base"))
    }
}
