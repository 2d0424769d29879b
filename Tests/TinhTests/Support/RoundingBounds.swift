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
        var r = ReferenceProduct(values: .init(repeating: 0, count: rows * n), absSums: .init(repeating: 0, count: rows * n))
        for i in 0..<rows { for j in 0..<n {
            var s = 0.0, a = 0.0
            for t in 0..<k { let p = Double(x[i * k + t]) * Double(w[j * k + t]); s += p; a += abs(p) }
            r.values[i * n + j] = s
            r.absSums[i * n + j] = a
        } }
        return r
    }

    /// dx [rows, k] = dy [rows, n] · W, W [n, k].
    static func plain(_ dy: Tensor, _ w: Tensor, rows: Int, n: Int, k: Int) -> ReferenceProduct {
        var r = ReferenceProduct(values: .init(repeating: 0, count: rows * k), absSums: .init(repeating: 0, count: rows * k))
        for i in 0..<rows { for t in 0..<k {
            var s = 0.0, a = 0.0
            for j in 0..<n { let p = Double(dy[i * n + j]) * Double(w[j * k + t]); s += p; a += abs(p) }
            r.values[i * k + t] = s
            r.absSums[i * k + t] = a
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
    static func headLogit(_ model: LlamaModel) -> Double {
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
