import Foundation
import Testing
@testable import Tinh

/// The frozen-weight products (`FrozenGEMM`, oneDNN's f32 matmul when the build has it) against
/// a plain double-precision reference, on shapes that are not multiples of any kernel's block.
struct KernelFrozenGEMMTests {
    func reference(_ x: Tensor, _ w: Tensor, rows: Int, n: Int, k: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows { for j in 0..<n {
            var s = 0.0
            for i in 0..<k { s += Double(x[r * k + i]) * Double(w[j * k + i]) }
            y[r * n + j] = s
        } }
        return y
    }

    @Test(arguments: [(1, 7, 5), (3, 17, 33), (37, 64, 96), (130, 49, 200)])
    func multiplyTransposedMatchesReference(rows: Int, n: Int, k: Int) {
        var d = TestData(seed: UInt64(rows * 1000 + n))
        let x = d.tensor([rows, k]), w = d.tensor([n, k]), y = Tensor(shape: [rows, n])
        y.fill(9)   // must be overwritten, not added to
        FrozenGEMM.multiplyTransposed(x.data, w.data, y.data, rows: rows, n: n, k: k)
        #expect(maxAbsDiff(y.data, reference(x, w, rows: rows, n: n, k: k)) < 1e-4 * Double(k).squareRoot())
    }

    /// oneDNN's f32 matmul itself (FrozenGEMM uses it only at one BLAS thread, which a test
    /// process may not run), including accumulation into C.
    @Test(arguments: [(2, 7, 5), (37, 64, 96), (130, 49, 200)])
    func oneDNNSgemmMatchesReference(rows: Int, n: Int, k: Int) throws {
        try #require(BF16GEMM.isCompiled, "built without oneDNN")
        var d = TestData(seed: UInt64(7 * rows + k))
        let x = d.tensor([rows, k]), w = d.tensor([n, k]), y = Tensor(shape: [rows, n])
        y.fill(9)
        #expect(BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x.data, b: w.data, c: y.data))
        let expected = reference(x, w, rows: rows, n: n, k: k)
        #expect(maxAbsDiff(y.data, expected) < 1e-4 * Double(k).squareRoot())
        #expect(BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x.data, b: w.data, accumulate: true, c: y.data))
        #expect(maxAbsDiff(y.data, expected.map { 2 * $0 }) < 2e-4 * Double(k).squareRoot())
    }

    @Test(arguments: [false, true])
    func multiplyMatchesReference(accumulate: Bool) {
        var d = TestData(seed: 31)
        let rows = 29, n = 40, k = 23   // dx [rows, k] = dy [rows, n] · W [n, k]
        let dy = d.tensor([rows, n]), w = d.tensor([n, k]), dx = Tensor(shape: [rows, k])
        dx.fill(0.5)
        FrozenGEMM.multiply(dy.data, w.data, dx.data, rows: rows, n: n, k: k, accumulate: accumulate)
        var expected = [Double](repeating: accumulate ? 0.5 : 0, count: rows * k)
        for r in 0..<rows { for i in 0..<k { for j in 0..<n { expected[r * k + i] += Double(dy[r * n + j]) * Double(w[j * k + i]) } } }
        #expect(maxAbsDiff(dx.data, expected) < 1e-4 * Double(n).squareRoot())
        // oneDNN's own dy·W (FrozenGEMM's path at one BLAS thread).
        guard BF16GEMM.isCompiled else { return }
        dx.fill(0.5)
        #expect(BF16GEMM.sgemm(.none, .none, m: rows, n: k, k: n, a: dy.data, lda: n, b: w.data, ldb: k, accumulate: accumulate,
                               c: dx.data, ldc: k))
        #expect(maxAbsDiff(dx.data, expected) < 1e-4 * Double(n).squareRoot())
    }

    /// The library is fixed only by `choose()` (the tests never call it, so they stay on OpenBLAS);
    /// oneDNN is preferred only where it was measured to help: one BLAS thread, oneDNN compiled in.
    @Test func backendIsChosenExplicitly() {
        #expect(FrozenGEMM.backend == .openblas)
        if BLAS.threads > 1 { #expect(FrozenGEMM.preferredBackend == .openblas) }
        if !BF16GEMM.isCompiled { #expect(FrozenGEMM.preferredBackend == .openblas) }
    }
}
