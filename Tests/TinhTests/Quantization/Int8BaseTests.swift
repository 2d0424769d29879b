import Foundation
import Testing
@testable import Tinh

/// An int8 frozen base (`--base-precision int8`): projections and LM head as int8 codes with a
/// scale per row and block of input columns, multiplied by oneDNN's int8 GEMM (one per block) with the activation quantized on the
/// fly. Checked against Double products of the unquantized W and x within the bound the two
/// roundings allow, and trained with LoRA on top against the same run on f32.
@Suite(.enabled(if: Int8GEMM.isSupported, "needs a build with oneDNN"))
struct Int8BaseTests {
    static let u = RoundingBound.u

    /// Forward y[t, o] = Σ_i x[t, i]·W[o, i], one int8 GEMM per block b of the input axis. With
    /// x̂ = s_x[t, b]·q (|x − x̂| ≤ s_x/2 + 4u|x|, s_x = max|x[t, b]|/127) and Ŵ = s[o, b]·c
    /// (|W − Ŵ| ≤ s/2 + 4u|W|), each block's exact integer sum leaves
    /// |y − ŷ| ≤ Σ_i (|x − x̂|·|W| + |x̂|·|W − Ŵ|) plus the epilogue's roundings: three per block as it
    /// scales and adds into y (3u·|partial sum| each, bounded by 3u·blocks·Σ|x̂||Ŵ|).
    /// Backward dx[t, i] = Σ_o dy[t, o]·W[o, i] runs, for the columns of block b, on v = fl(dy ⊙ s[·, b])
    /// quantized per row (step s_v) times the codes c:
    /// |dx − dx̂| ≤ Σ_o (|dy|·|W − Ŵ| + u|v|·|c| + (s_v/2 + 4u|v|)·|c|) + 3u|dx̂| (+ the accumulated
    /// 0.5's rounding), with |c| ≤ |W|/s + 1/2 + 4u·levels.
    @Test(arguments: [(6, 96, 40, 32), (1, 576, 64, 0), (33, 64, 200, 48), (5, 1536, 24, 0)])
    func linearIsWithinTheQuantizationBound(rows: Int, inF: Int, outF: Int, block: Int) throws {
        var d = TestData(seed: UInt64(rows + inF))
        let w = d.tensor([outF, inF], std: 0.05), x = d.tensor([rows, inF]), dy = d.tensor([rows, outF], std: 0.1)
        let weight = try Int8Weight(quantizing: w, name: "w", blockSize: block == 0 ? nil : block)
        let m = weight.matrix, bs = m.blockSize
        if block == 0 { #expect(bs == Int8Matrix.blockSize(forColumns: inF) && m.blocks == (inF + 255) / 256) }
        let linear = Linear(name: "q", frozen: weight)
        let levels = Double(m.levels), blocks = Double(m.blocks)
        let s = { (o: Int, i: Int) in Double(m.scale(row: o, col: i)) }
        let wErr = { (o: Int, i: Int) in s(o, i) / 2 + 4 * Self.u * Double(abs(w[o * inF + i])) }
        let codeBound = { (o: Int, i: Int) in Double(abs(w[o * inF + i])) / s(o, i) + 0.5 + 4 * Self.u * levels }

        let y = Tensor(shape: [rows, outF])
        linear.forward(x.data, y.data, rows: rows)
        var worst = 0.0
        for t in 0..<rows {
            let xs = (0..<inF).map { Double(x[t * inF + $0]) }
            let sx = (0..<m.blocks).map { b in xs[(b * bs)..<min(inF, (b + 1) * bs)].map(abs).max()! / 127 }
            for o in 0..<outF {
                var exact = 0.0, bound = 0.0, magnitude = 0.0
                for i in 0..<inF {
                    let wi = Double(w[o * inF + i]), xErr = sx[i / bs] / 2 + 4 * Self.u * abs(xs[i])
                    exact += xs[i] * wi
                    bound += xErr * abs(wi) + (abs(xs[i]) + xErr) * wErr(o, i)
                    magnitude += (abs(xs[i]) + xErr) * (abs(wi) + wErr(o, i))
                }
                let got = Double(y[t * outF + o])
                bound += 3 * Self.u * blocks * magnitude
                worst = max(worst, abs(got - exact) / bound)
                #expect(abs(got - exact) <= bound, "y[\(t), \(o)]: \(got) vs \(exact), bound \(bound)")
            }
        }
        #expect(worst > 0.01, "a bound far above every error would check little: worst error/bound \(worst)")

        let dx = Tensor(shape: x.shape)
        dx.fill(0.5)
        linear.backward(dy.data, dx.data, input: x.data, rows: rows, accumulate: true)
        for t in 0..<rows {
            for b in 0..<m.blocks {
                let v = (0..<outF).map { Double(dy[t * outF + $0] * m.scales(ofBlock: b)[$0]) }
                let sv = v.map(abs).max()! / 127
                for i in (b * bs)..<min(inF, (b + 1) * bs) {
                    var exact = 0.5, bound = 0.0
                    for o in 0..<outF {
                        let g = Double(dy[t * outF + o])
                        exact += g * Double(w[o * inF + i])
                        bound += abs(g) * wErr(o, i) + (Self.u * abs(v[o]) + sv / 2 + 4 * Self.u * abs(v[o])) * codeBound(o, i)
                    }
                    let got = Double(dx[t * inF + i])
                    bound += 3 * Self.u * abs(got) + Self.u * abs(got)
                    #expect(abs(got - exact) <= bound, "dx[\(t), \(i)]: \(got) vs \(exact), bound \(bound)")
                }
            }
        }
    }

    /// One outlier input channel: per-row scales would give every other channel of its row a step of
    /// outlier/127; blocks confine that to the outlier's block, so the other blocks keep their resolution.
    @Test func anOutlierChannelSpoilsOnlyItsBlock() throws {
        var d = TestData(seed: 12)
        let w = d.tensor([4, 256], std: 0.02)
        for o in 0..<4 { w[o * 256 + 3] = 2 }
        let m = try Int8Weight(quantizing: w, blockSize: 128).matrix
        for o in 0..<4 {
            #expect(m.scale(row: o, col: 0) == 2 / Float(m.levels))
            #expect(m.scale(row: o, col: 200) < m.scale(row: o, col: 0) / 10, "the outlier-free block keeps a fine step")
        }
    }

    /// `withFloats` hands out scale·code, the W the GEMMs use; the codes stay within the CPU's levels.
    @Test func floatsAreTheQuantizedValues() throws {
        var d = TestData(seed: 8)
        let w = d.tensor([9, 70], std: 0.2)
        let weight = try Int8Weight(quantizing: w, blockSize: 32)
        let levels = Int8GEMM.weightLevels
        #expect(weight.matrix.levels == levels)
        #expect((0..<w.count).allSatisfy { abs(Int(weight.matrix.codes[$0])) <= levels })
        let values = weight.dequantized()
        for o in 0..<9 {
            for b in 0..<3 {
                #expect((b * 32..<min(70, b * 32 + 32)).contains { abs(weight.matrix.codes[o * 70 + $0]) == Int8(levels) },
                        "each block's largest value gets the top code")
            }
            for i in 0..<70 { #expect(values[o * 70 + i] == weight.matrix.scale(row: o, col: i) * Float(weight.matrix.codes[o * 70 + i])) }
        }
        #expect(weight.matrix.blocks == 3 && weight.storageBytes == 9 * 70 + 3 * 9 * 4)
    }

    /// A NaN in x makes its row of y NaN (the trainer then skips the step), not a finite guess.
    @Test func nonFiniteInputsStayVisible() throws {
        var d = TestData(seed: 9)
        let linear = Linear(name: "q", frozen: try Int8Weight(quantizing: d.tensor([8, 16], std: 0.1)))
        let x = d.tensor([2, 16]), y = Tensor(shape: [2, 8])
        x[16 + 3] = .infinity
        linear.forward(x.data, y.data, rows: 2)
        #expect((0..<8).allSatisfy { y[$0].isFinite } && (8..<16).allSatisfy { y[$0].isNaN })
        let bad = Tensor(shape: [2, 4], values: [1, 2, .nan, 4, 5, 6, 7, 8])
        #expect(throws: TinhError.self) { try Int8Weight(quantizing: bad, name: "bad") }
    }

    /// Logits of tiny:3 on an int8 base against f32: relative L2 below 3%. Tiny's weights are
    /// N(0, 0.02) in rows of 64–256: the row maximum is ≈ 2.5–3σ, so a step of max/levels has a
    /// relative RMS error per weight of ≈ 3σ/(levels·√12·σ) ≈ 0.7% at 127 levels (1.4% at 63), the
    /// activations' per-row rounding adds as much again.
    @Test func logitsAreCloseToF32() throws {
        let f32 = try ModelSource.load("tiny:3").model.logits(tokens: QuantizedBaseTests.tokens).array
        let model = try ModelSource.load("tiny:3", basePrecision: .int8).model
        #expect(model.basePrecision == .int8)
        let int8 = try model.logits(tokens: QuantizedBaseTests.tokens).array
        let distance = QuantizedBaseTests.relativeL2(int8, f32)
        #expect(distance < 0.03 && distance > 0, "relative L2 of the logits \(distance)")
    }

    /// Every projection and the (tied) head are int8 and share the model's buffers; the embedding
    /// stays f32; the projections take a quarter of f32's bytes plus their scales.
    @Test func projectionsAndHeadAreInt8WithSharedScratch() throws {
        let f32 = try ModelSource.load("tiny:3").model
        let model = try ModelSource.load("tiny:3", basePrecision: .int8).model
        let scales = model.blocks.flatMap(\.linears).reduce(0) { $0 + $1.outFeatures * 4 * ($1.weight as! Int8Weight).matrix.blocks }
        #expect(model.projectionBytes * 4 == f32.projectionBytes + 4 * scales)
        for linear in model.linears {
            let w = try #require(linear.weight as? Int8Weight, "\(linear.name) is not int8")
            #expect(w.scratch === model.int8Scratch)
            #expect(w.floatScratch === (linear === model.lmHead ? nil : model.dequantizationScratch))
        }
        #expect(model.isTied && model.embedTokens.array == f32.embedTokens.array)
        let record = BaseQuantizationRecord(AdapterConfig(basePrecision: .int8))
        #expect(record.quantizedModules.contains("lm_head") && record.format["name"] == "INT8")
    }

    /// LoRA on an int8 base trains (the loss falls) and its eval loss is within 1% of the same run on f32.
    @Test func loraOnAnInt8BaseTrainsLikeF32() throws {
        var results: [BasePrecision: (losses: [Double], eval: Double)] = [:]
        for precision in [BasePrecision.f32, .int8] {
            var config = QuantizedBaseTests.config(.lora, precision: precision)
            config.saveEvery = 0
            let trainer = try Trainer(config: config, comm: LocalCommunicator())
            #expect(trainer.loaded.model.basePrecision == precision)
            if precision == .int8 { #expect(trainer.startSummary.contains("base int8: projection weights")) }
            var losses: [Double] = []
            try trainer.run { if case .step(let m, _, _) = $0 { losses.append(m.loss) } }
            results[precision] = (losses, try #require(trainer.summary?.eval?.loss))
        }
        let int8 = try #require(results[.int8]), f32 = try #require(results[.f32])
        #expect(int8.losses.count == 12)
        let early: Double = int8.losses.prefix(3).reduce(0, +), late: Double = int8.losses.suffix(3).reduce(0, +)
        #expect(late < early * 0.97, "int8 losses \(int8.losses)")
        #expect(abs(int8.eval - f32.eval) / f32.eval < 0.01, "eval loss int8 \(int8.eval) vs f32 \(f32.eval)")
    }
}
