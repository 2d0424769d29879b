import Foundation
import Tinh

/// Float32 rounding-error bounds that the suite's tolerances are derived from, so they hold on any
/// CPU, library or kernel (AVX2 or AVX-512, OpenBLAS or oneDNN, any blocking, FMA or not).
///
/// The standard model (Higham, "Accuracy and Stability of Numerical Algorithms", §2–3): each
/// float32 operation returns the exact result times (1 + δ), |δ| ≤ u = 2⁻²⁴. A dot product of n
/// terms, summed in ANY order, satisfies |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γₙ · Σ|aᵢ||bᵢ| with
/// γₙ = n·u / (1 − n·u). Two float32 evaluations in different orders therefore differ by at
/// most 2·γₙ·Σ|aᵢ||bᵢ|.
enum RoundingBound {
    /// Unit roundoff of float32.
    static let u = Double(Float.ulpOfOne) / 2
    /// Unit roundoff of bf16 (8 significant bits).
    static let uBF16 = 1.0 / 256

    /// The relative accuracy of the SIMD exp (`simdExp`: range reduction, a degree-6 polynomial,
    /// scaling by 2ⁿ), the contract KernelSoftmaxTests.simdExpIsAccurate checks over its whole range.
    static let simdExp = 2e-6

    /// γₙ for float32.
    static func gamma(_ n: Int) -> Double { gamma(n, unit: u) }

    static func gamma(_ n: Int, unit: Double) -> Double {
        let nu = Double(n) * unit
        precondition(nu < 1, "γ_\(n) is undefined at this unit roundoff")
        return nu / (1 - nu)
    }

    /// Unit roundoff of Double (the references' arithmetic).
    static let uDouble = Double.ulpOfOne / 2

    /// The largest difference between a float32 dot product of `length` terms, whose absolute
    /// products sum to `absSum`, and a Double reference of it (whose own error is the second term).
    static func dot(length: Int, absSum: Double) -> Double {
        (gamma(length) + gamma(length, unit: uDouble)) * absSum
    }
}

/// C = A·Bᵀ (or dy·W) in Double, with Σ|a||b| per element: the reference of a GEMM test and the
/// scale of its bound.
struct ReferenceProduct {
    var values: [Double]
    var absSums: [Double]

    /// y [rows, n] = x [rows, k] · Wᵀ, W [n, k].
    static func transposed(_ x: Tensor, _ w: Tensor, rows: Int, n: Int, k: Int) -> ReferenceProduct {
        make(rows: rows, cols: n, k: k) { i, j, t in Double(x[i * k + t]) * Double(w[j * k + t]) }
    }

    /// dx [rows, k] = dy [rows, n] · W, W [n, k].
    static func plain(_ dy: Tensor, _ w: Tensor, rows: Int, n: Int, k: Int) -> ReferenceProduct {
        make(rows: rows, cols: k, k: n) { i, t, j in Double(dy[i * n + j]) * Double(w[j * k + t]) }
    }

    /// C [rows, cols] with C[i][j] = Σ_t term(i, j, t) over `k` terms, and Σ_t |term|.
    private static func make(rows: Int, cols: Int, k: Int, term: (Int, Int, Int) -> Double) -> ReferenceProduct {
        var r = ReferenceProduct(values: .init(repeating: 0, count: rows * cols), absSums: .init(repeating: 0, count: rows * cols))
        for i in 0..<rows { for j in 0..<cols {
            var s = 0.0, a = 0.0
            for t in 0..<k { let p = term(i, j, t); s += p; a += abs(p) }
            r.values[i * cols + j] = s
            r.absSums[i * cols + j] = a
        } }
        return r
    }

    /// The same product added to a C that held `c` everywhere (one more term per element).
    func accumulated(onto c: Double) -> ReferenceProduct {
        ReferenceProduct(values: values.map { $0 + c }, absSums: absSums.map { $0 + abs(c) })
    }

    /// Whether every element of `result` lies within the float32 bound of a `length`-term dot
    /// product; returns the worst ratio of error to bound for the message.
    func check(_ result: UnsafePointer<Float>, length: Int) -> (ok: Bool, worst: Double) {
        var worst = 0.0
        for i in values.indices {
            let bound = RoundingBound.dot(length: length, absSum: absSums[i]) + Double(Float.leastNormalMagnitude)
            worst = max(worst, abs(Double(result[i]) - values[i]) / bound)
        }
        return (worst <= 1, worst)
    }
}

extension RoundingBound {
    /// The most one LM-head logit can differ between two evaluations of the head GEMM over the same
    /// normalized hidden states in different shapes (another row count, chunk or kernel): each is
    /// within γ_d·Σ|hᵢ||wᵢ| of the exact logit, and by Cauchy–Schwarz Σ|hᵢ||wᵢ| ≤ ‖h‖·‖w‖, where
    /// the final RMSNorm's output has ‖h‖ ≤ √d·max|g| (x/rms(x) has norm √d exactly).
    static func headLogit(_ model: DecoderModel) -> Double {
        let d = model.config.hiddenSize
        let g = model.finalNorm.weight.array.map { Double(abs($0)) }.max() ?? 0
        let rows = model.config.vocabSize
        let rowNorm: Double = model.lmHead.weight.withFloats { w in
            var largest = 0.0
            for j in 0..<rows {
                var s = 0.0
                for i in 0..<d { let v = Double(w[j * d + i]); s += v * v }
                largest = max(largest, s.squareRoot())
            }
            return largest
        }
        return 2 * gamma(d) * Double(d).squareRoot() * g * rowNorm
    }

    /// How many of `rows` (logits rows of `vocab`) have their two best logits within `2·bound`:
    /// there an argmax (next-token accuracy) may go either way between two evaluations.
    static func nearTies(_ logits: [Float], vocab: Int, rows: [Int], bound: Double) -> Int {
        rows.filter { r in
            let top2 = logits[(r * vocab)..<((r + 1) * vocab)].sorted(by: >).prefix(2).map(Double.init)
            return top2.count == 2 && top2[0] - top2[1] <= 2 * bound
        }.count
    }
}

extension RoundingBound {
    /// How far apart two float32 forwards of the same model may put a logit, relative to the
    /// largest logit, when they differ only in summation order: another library or row count (the
    /// KV cache's decode against the full forward), or a merged W′ = W + s·B·A against W plus the
    /// adapter's own product. A random-sign estimate, not a worst case (which γ_K = K·u would give
    /// per GEMM, and is never approached): a GEMM of K terms errs by about √K·u relative; a logit
    /// goes through 2 residual updates per layer and the head, 2L + 1 such errors in sequence,
    /// which add as √(2L + 1); ×5 for RMSNorm's 1/rms rescaling and the merged weights' own rounding
    /// (one u each; a thin SVD's backward error is of the same order, c·n·u·‖W‖); ×2 for the two sides.
    /// For tiny (K ≤ 128, 2 layers): 1.5e-5; for SmolLM2 (K = 1536, 30 layers): 1.8e-4.
    static func forwardEstimate(_ c: DecoderConfig) -> Double {
        let k = max(c.hiddenSize, c.intermediateSize, c.numHeads * c.headDim)
        return 2 * 5 * Double(2 * c.numLayers + 1).squareRoot() * Double(k).squareRoot() * u
    }

    /// `worst` difference of two logit arrays against `forwardEstimate`, relative to the largest of `reference`.
    static func logitsAgree(_ a: [Float], _ reference: [Float], _ c: DecoderConfig) -> (ok: Bool, relative: Double) {
        let scale = Double(reference.map(abs).max() ?? 0)
        let worst = Double(zip(a, reference).map { abs($0 - $1) }.max() ?? 0)
        let relative = scale > 0 ? worst / scale : worst
        return (a.count == reference.count && relative <= forwardEstimate(c), relative)
    }
}
