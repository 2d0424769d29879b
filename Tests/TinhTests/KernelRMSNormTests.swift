import Foundation
import Testing
@testable import Tinh

@Suite struct KernelRMSNormTests {
    // dim 40: two SIMD16 blocks and a scalar tail.
    let rows = 3, dim = 40, eps: Float = 1e-5

    @Test func forwardMatchesReference() {
        var d = TestData(seed: 1)
        let x = d.tensor([rows, dim]), w = d.tensor([dim])
        let out = Tensor(shape: [rows, dim]), rstd = Tensor(shape: [rows])
        RMSNorm.forward(out: out.data, rstd: rstd.data, inp: x.data, weight: w.data, rows: rows, dim: dim, eps: eps)
        var ref = [Double]()
        for r in 0..<rows {
            let ms = (0..<dim).map { Double(x[r * dim + $0]) * Double(x[r * dim + $0]) }.reduce(0, +) / Double(dim)
            let s = 1 / (ms + Double(eps)).squareRoot()
            ref += (0..<dim).map { Double(x[r * dim + $0]) * s * Double(w[$0]) }
        }
        // The mean square of dim terms is within γ_dim relative, the square root halves that, and
        // adding eps, dividing, the reciprocal square root and two products add a few u: within
        // (γ_dim + 6u)·|ref| of the reference, whatever the summation order.
        let relative = RoundingBound.gamma(dim) + 6 * RoundingBound.u
        #expect(ref.indices.allSatisfy { abs(Double(out[$0]) - ref[$0]) <= relative * abs(ref[$0]) })
    }

    @Test func backwardMatchesFiniteDifferences() {
        var d = TestData(seed: 2)
        let x = d.tensor([rows, dim]), w = d.tensor([dim]), dy = d.normal(rows * dim)
        let out = Tensor(shape: [rows, dim]), rstd = Tensor(shape: [rows])
        func loss() -> Double {
            RMSNorm.forward(out: out.data, rstd: rstd.data, inp: x.data, weight: w.data, rows: rows, dim: dim, eps: eps)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        let dx = Tensor(shape: [rows, dim]), dw = Tensor(shape: [dim])
        dx.fill(0.5)   // backward accumulates: start from a non-zero value and subtract it
        dy.withUnsafeBufferPointer {
            RMSNorm.backward(dinp: dx.data, dweight: dw.data, dout: $0.baseAddress!, inp: x.data, weight: w.data,
                             rstd: rstd.data, rows: rows, dim: dim)
        }
        let gradX = dx.array.map { $0 - 0.5 }
        GradCheck().check("rmsnorm dx", param: x.data, analytic: gradX, loss: loss)
        GradCheck().check("rmsnorm dw", param: w.data, analytic: dw.array, loss: loss)
    }
}
