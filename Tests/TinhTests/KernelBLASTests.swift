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
            // α = 0.5 and β = 2 are powers of two (exact scalings); C is one more term of each sum,
            // so every entry is within γ_{k+1}·(0.5·Σ|a||b| + 2|c₀|) of the exact value.
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0, abs = 0.0
                for p in 0..<k {
                    let av = ta == .none ? a[i * k + p] : a[p * m + i]
                    let bv = tb == .none ? b[p * n + j] : b[j * k + p]
                    s += Double(av) * Double(bv)
                    abs += Swift.abs(Double(av) * Double(bv))
                }
                let ref = 0.5 * s + 2 * Double(c0[i * n + j])
                let bound = RoundingBound.dot(length: k + 1, absSum: 0.5 * abs + 2 * Swift.abs(Double(c0[i * n + j])))
                worst = max(worst, Swift.abs(Double(c[i * n + j]) - ref) / bound)
            } }
            #expect(worst <= 1, "transA \(ta) transB \(tb): error \(worst)× the float32 bound")
        } }
    }
}
