import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// Tests that need oneDNN with native bf16 skip with this reason elsewhere.
let bf16Unavailable = "needs oneDNN with AVX512-BF16 (BF16GEMM.isSupported is false: ISA \(BF16GEMM.isa))"

@Suite struct KernelBF16GEMMTests {
    /// Scalar round-to-nearest-even reference, on the bit pattern.
    static func referenceRound(_ f: Float) -> UInt16 {
        let u = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: u >> 16) | 0x40 }
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }

    @Test func roundingIsNearestEvenIncludingTiesAndSpecials() {
        var values: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, -.leastNormalMagnitude, 1e-40, 3.14159265]
        // Exact ties between two bf16 values: 1 + 2⁻⁸ rounds down to 1 (even), 1 + 3·2⁻⁸ rounds up.
        values += [Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x3f80_8001)]
        var d = TestData(seed: 7)
        values += d.normal(61, std: 100)   // 76 values: four 16-wide SIMD blocks plus a scalar tail
        var out = [UInt16](repeating: 0, count: values.count)
        BF16GEMM.round(values, into: &out, count: values.count)
        for (i, v) in values.enumerated() {
            #expect(out[i] == Self.referenceRound(v), "value \(v) (\(String(v.bitPattern, radix: 16)))")
        }
        #expect(out[12] == 0x3f80 && out[13] == 0x3f82 && out[14] == 0x3f81)
        #expect(out[7] == 0x7f80, "FLT_MAX rounds to +inf")
        var back = [Float](repeating: 0, count: values.count)
        BF16GEMM.widen(out, into: &back, count: out.count)
        for i in values.indices where values[i].isFinite && abs(values[i]) > 1e-30 && abs(values[i]) < 1e30 {
            #expect(abs(back[i] - values[i]) <= abs(values[i]) * 0x1p-8, "relative rounding error ≤ 2⁻⁸ (8 significant bits)")
        }
        #expect(back[6].isNaN)
    }

    /// Uniform values in [-1, 1) from a local xorshift (TestData's normals are slow for 28 M values in debug).
    static func uniform(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = Tensor(shape: shape)
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let p = t.data
        for i in 0..<t.count {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            p[i] = Float(Int32(truncatingIfNeeded: s >> 32)) * 0x1p-31
        }
        return t
    }

    /// Random A, B (f32) and their bf16 roundings; checks C against sgemm twice:
    /// - on the bf16-rounded values: only float accumulation order differs, |ΔC| ≤ 2⁻¹⁶·Σ|a||b|;
    /// - on the original values: rounding each operand to bf16 (relative error ≤ 2⁻⁸) bounds the
    ///   error of each entry by (2·2⁻⁸ + 2⁻¹⁶)·Σ_k|a_ik||b_kj| ≈ 2⁻⁷·Σ|a||b|.
    static func check(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int, accumulate: Bool,
                      seed: UInt64, lda: Int? = nil, ldc: Int? = nil) {
        let aRows = ta == .none ? m : k, aCols = ta == .none ? k : m
        let bRows = tb == .none ? k : n, bCols = tb == .none ? n : k
        let lda = lda ?? aCols, ldc = ldc ?? n
        let a = uniform([aRows, lda], seed: seed), b = uniform([bRows, bCols], seed: seed + 1)
        let a16 = BF16Matrix(a), b16 = BF16Matrix(b)
        let aR = a16.widened(), bR = b16.widened()
        let c = uniform([m, ldc], seed: seed + 2), c0 = c.copy()
        BF16GEMM.gemm(ta, tb, m: m, n: n, k: k, a: a16.data, lda: lda, b: b16.data, accumulate: accumulate,
                      c: c.data, ldc: ldc)
        let refRounded = c0.copy(), refExact = c0.copy()
        let beta: Float = accumulate ? 1 : 0
        BLAS.gemm(ta, tb, m: m, n: n, k: k, a: aR.data, lda: lda, b: bR.data, beta: beta, c: refRounded.data, ldc: ldc)
        BLAS.gemm(ta, tb, m: m, n: n, k: k, a: a.data, lda: lda, b: b.data, beta: beta, c: refExact.data, ldc: ldc)
        // Σ_k |a_ik||b_kj|, the scale of each entry's error.
        let pa = a.data, pb = b.data
        for i in 0..<a.count { pa[i] = abs(pa[i]) }
        for i in 0..<b.count { pb[i] = abs(pb[i]) }
        let scale = Tensor(shape: [m, ldc])
        BLAS.gemm(ta, tb, m: m, n: n, k: k, a: a.data, lda: lda, b: b.data, c: scale.data, ldc: ldc)
        if accumulate { for i in 0..<scale.count { scale[i] += abs(c0[i]) } }   // C is one more term
        // Bounds. Products of bf16 values are exact in f32 (8 + 8 significant bits), so oneDNN and
        // sgemm on the rounded inputs are two f32 sums of the same terms, each within γ_n·Σ|a||b| of
        // the exact sum (n = k, + 1 with C): 2γ_n apart. Against sgemm on the f32 inputs, each input's
        // rounding to bf16 adds a relative 2⁻⁸ (u of bf16), a product's at most 2·2⁻⁸ + 2⁻¹⁶.
        let terms = k + (accumulate ? 1 : 0)
        let roundedBound = 2 * RoundingBound.gamma(terms)
        let uB = RoundingBound.uBF16
        let exactBound = 2 * uB + uB * uB + 2 * RoundingBound.gamma(terms)
        var worstRounded = 0.0, worstExact = 0.0
        for i in 0..<m { for j in 0..<n {
            let idx = i * ldc + j, s = Double(scale[idx]) + 1e-30
            worstRounded = max(worstRounded, abs(Double(c[idx]) - Double(refRounded[idx])) / s)
            worstExact = max(worstExact, abs(Double(c[idx]) - Double(refExact[idx])) / s)
        } }
        let what = "\(ta)/\(tb) \(m)×\(k)×\(n) accumulate \(accumulate)"
        #expect(worstRounded <= roundedBound, "\(what): vs sgemm on bf16-rounded inputs, error/Σ|a||b| = \(worstRounded)")
        #expect(worstExact <= exactBound, "\(what): vs sgemm on f32 inputs, error/Σ|a||b| = \(worstExact)")
        // Padding columns of C (ldc > n) are never written.
        for i in 0..<m { for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j]) } }
    }

    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func matchesSgemmForEveryTransposeAndAccumulate() {
        var seed: UInt64 = 100
        for ta in [BLAS.Transpose.none, .transpose] { for tb in [BLAS.Transpose.none, .transpose] {
            for acc in [false, true] {
                seed += 1
                Self.check(ta, tb, m: 37, n: 53, k: 29, accumulate: acc, seed: seed)
            }
        } }
        Self.check(.none, .none, m: 1, n: 19, k: 64, accumulate: false, seed: 1)   // one row
        Self.check(.none, .transpose, m: 9, n: 11, k: 13, accumulate: true, seed: 2, lda: 20, ldc: 15)  // strides
    }

    /// SmolLM2-135M's frozen GEMMs (fewer rows than a 4 × 128 batch to keep the debug test fast):
    /// forward y = x·Wᵀ with W [out, in], and backward dX = dY·W.
    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func matchesSgemmOnSmolLM2Shapes() {
        for (rows, inF, outF) in [(128, 576, 576), (64, 576, 1536), (64, 1536, 576), (16, 576, 49152)] {
            Self.check(.none, .transpose, m: rows, n: outF, k: inF, accumulate: false, seed: UInt64(outF))
            Self.check(.none, .none, m: rows, n: inF, k: outF, accumulate: true, seed: UInt64(inF))
        }
    }

    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func primitivesAreCreatedOncePerShapeAndReused() {
        // Shapes no other test uses, so that concurrent tests do not disturb the counts.
        let m = 5, n = 7, k = 3
        let a = BF16Matrix(Tensor(shape: [m, k])), b = BF16Matrix(Tensor(shape: [n, k]))
        let c = Tensor(shape: [m, n])
        BF16GEMM.gemm(.none, .transpose, m: m, n: n, k: k, a: a.data, b: b.data, c: c.data)
        let entries = BF16GEMM.cacheEntries, hits = BF16GEMM.cacheHits
        for _ in 0..<5 { BF16GEMM.gemm(.none, .transpose, m: m, n: n, k: k, a: a.data, b: b.data, c: c.data) }
        #expect(BF16GEMM.cacheHits >= hits + 5)
        #expect(BF16GEMM.cacheEntries <= entries, "no new primitive for a shape already seen")
        let impl = BF16GEMM.implementation(.none, .transpose, m: 512, n: 576, k: 576) ?? "none"
        #expect(!impl.hasPrefix("ref"), "oneDNN chose \(impl) (its reference code) for a bf16 matmul on ISA \(BF16GEMM.isa)")
    }

    @Test(.enabled(if: BF16GEMM.isSupported, "\(bf16Unavailable)"))
    func comparisonReportsBothKernels() {
        let rows = GEMMComparison.run(shapes: [(m: 8, k: 32, n: 24)], seconds: 0.01)
        #expect(rows.count == 1)
        #expect(rows[0].sgemmGFLOPS > 0 && rows[0].bf16GFLOPS > 0 && rows[0].bf16WithRoundingGFLOPS > 0)
        #expect(!rows[0].implementation.isEmpty)
    }
}
