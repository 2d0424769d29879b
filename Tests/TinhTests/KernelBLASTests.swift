import Testing
@testable import Tinh

@Suite struct KernelBLASTests {
    /// Every transpose combination, for several rows including the one-row (matrix-vector) path.
    @Test(arguments: [1, 3]) func gemmMatchesReference(m: Int) {
        let n = 7, k = 5
        var d = TestData(seed: 40)
        for ta in [BLAS.Transpose.none, .transpose] { for tb in [BLAS.Transpose.none, .transpose] {
            let a = d.tensor([m * k]), b = d.tensor([k * n]), c = d.tensor([m * n])
            let c0 = c.array
            BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a: a.data, b: b.data, beta: 2, c: c.data)
            var ref = [Double]()
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta == .none ? a[i * k + p] : a[p * m + i]
                    let bv = tb == .none ? b[p * n + j] : b[j * k + p]
                    s += Double(av) * Double(bv)
                }
                ref.append(0.5 * s + 2 * Double(c0[i * n + j]))
            } }
            #expect(maxAbsDiff(c.data, ref) < 1e-5, "transA \(ta) transB \(tb)")
        } }
    }
}
