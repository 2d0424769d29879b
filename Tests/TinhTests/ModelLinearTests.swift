import Testing
@testable import Tinh

/// A trivial adapter for testing the hook: y += s · x·Mᵀ with its own gradient dM.
final class ScaledMatrixAdapter: LinearAdapter {
    let m: Tensor, dm: Tensor, s: Float
    var forwardCalls = 0, backwardCalls = 0, lastTraining: Bool?

    init(m: Tensor, s: Float) { self.m = m; self.s = s; dm = Tensor(shape: m.shape) }

    func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        forwardCalls += 1
        lastTraining = training
        BLAS.gemm(.none, .transpose, m: rows, n: linear.outFeatures, k: linear.inFeatures, alpha: s,
                  a: x, b: m.data, beta: 1, c: y)
    }

    func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        backwardCalls += 1
        BLAS.gemm(.none, .none, m: rows, n: linear.inFeatures, k: linear.outFeatures, alpha: s, a: dy, b: m.data, beta: 1, c: dx)
        BLAS.gemm(.transpose, .none, m: linear.outFeatures, n: linear.inFeatures, k: rows, alpha: s, a: dy, b: x, beta: 1, c: dm.data)
    }
}

@Suite struct ModelLinearTests {
    let rows = 5, inF = 19, outF = 23

    @Test func backwardMatchesFiniteDifferences() {
        var d = TestData(seed: 20)
        let w = d.tensor([outF, inF]), b = d.tensor([outF]), x = d.tensor([rows, inF]), dy = d.normal(rows * outF)
        let lin = Linear(name: "test", weight: w, bias: b)
        lin.weightGrad = Tensor(shape: w.shape)
        lin.biasGrad = Tensor(shape: b.shape)
        let y = Tensor(shape: [rows, outF])
        func loss() -> Double { lin.forward(x.data, y.data, rows: rows); return weightedSum(y.data, dy) }
        _ = loss()
        let dx = Tensor(shape: x.shape)
        dx.fill(3)
        lin.backward(dy, dx.data, input: x.data, rows: rows, accumulate: true)
        GradCheck().check("linear dx", param: x.data, analytic: dx.array.map { $0 - 3 }, loss: loss)
        GradCheck().check("linear dW", param: w.data, analytic: lin.weightGrad!.array, loss: loss)
        GradCheck().check("linear db", param: b.data, analytic: lin.biasGrad!.array, loss: loss)
        // Without accumulate, dx is overwritten.
        lin.backward(dy, dx.data, input: x.data, rows: rows)
        let dx2 = Tensor(shape: x.shape)
        lin.backward(dy, dx2.data, input: x.data, rows: rows)
        #expect(dx.array == dx2.array)
    }

    @Test func frozenLinearComputesNoWeightGradient() {
        var d = TestData(seed: 21)
        let lin = Linear(name: "frozen", weight: d.tensor([outF, inF]))
        let x = d.tensor([rows, inF]), y = Tensor(shape: [rows, outF]), dx = Tensor(shape: x.shape)
        lin.forward(x.data, y.data, rows: rows)
        lin.backward(d.normal(rows * outF), dx.data, input: nil, rows: rows)
        #expect(lin.weightGrad == nil && lin.biasGrad == nil)
    }

    @Test func adapterHookIsCalledInForwardAndBackward() {
        var d = TestData(seed: 22)
        let w = d.tensor([outF, inF]), x = d.tensor([rows, inF]), dy = d.normal(rows * outF)
        let adapter = ScaledMatrixAdapter(m: d.tensor([outF, inF]), s: 0.7)
        let lin = Linear(name: "adapted", weight: w)
        lin.adapter = adapter
        let y = Tensor(shape: [rows, outF])
        func loss() -> Double { lin.forward(x.data, y.data, rows: rows); return weightedSum(y.data, dy) }
        _ = loss()
        #expect(adapter.forwardCalls == 1 && adapter.lastTraining == true)
        // y = x·Wᵀ + x·(s·M)ᵀ: two float32 products of inF terms and their sum, so each entry is within
        // γ_{inF+1}·Σ|x|(|w| + s|m|) of the exact value (the scaling by s = 0.7 rounds once more: γ_{inF+2}).
        var worst = 0.0
        for r in 0..<rows { for o in 0..<outF {
            var ref = 0.0, abs = 0.0
            for i in 0..<inF {
                let xv = Double(x[r * inF + i]), wv = Double(w[o * inF + i]), mv = 0.7 * Double(adapter.m[o * inF + i])
                ref += xv * (wv + mv)
                abs += Swift.abs(xv) * (Swift.abs(wv) + Swift.abs(mv))
            }
            worst = max(worst, Swift.abs(Double(y[r * outF + o]) - ref) / RoundingBound.dot(length: inF + 2, absSum: abs))
        } }
        #expect(worst <= 1, "error \(worst)× the float32 bound")
        let dx = Tensor(shape: x.shape)
        lin.backward(dy, dx.data, input: x.data, rows: rows)
        #expect(adapter.backwardCalls == 1)
        GradCheck().check("adapted linear dx", param: x.data, analytic: dx.array, loss: loss)
        GradCheck().check("adapter dM", param: adapter.m.data, analytic: adapter.dm.array, loss: loss)
        lin.forward(x.data, y.data, rows: rows, training: false)
        #expect(adapter.lastTraining == false)
    }
}
