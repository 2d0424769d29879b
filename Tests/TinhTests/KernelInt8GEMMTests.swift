import Foundation
import Testing
@testable import Tinh

/// The int8 GEMM (oneDNN's int8 matmul behind `Int8GEMM`) and the passes around it. The integer
/// sums are exact, so the product is checked for equality with an Int64 reference, at the extreme
/// codes too: that is where a kernel with 16-bit intermediate sums (AVX2 without VNNI) saturates.
@Suite(.enabled(if: Int8GEMM.isSupported, "needs a build with oneDNN"))
struct KernelInt8GEMMTests {
    static func codes(_ count: Int, levels: Int, seed: UInt64) -> [Int8] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int8(Int(rng.next() % UInt64(2 * levels + 1)) - levels) }
    }

    /// C = A·op(B) over shapes with odd sizes, both layouts of B, and changing row counts on the
    /// same (n, k) (one primitive with its M given at run time).
    @Test(arguments: [(1, 7, 5), (3, 33, 64), (17, 64, 130), (64, 96, 576), (200, 40, 72)])
    func productsAreExact(m: Int, n: Int, k: Int) {
        let levels = Int8GEMM.weightLevels
        for transB in [BLAS.Transpose.none, .transpose] {
            let a = Self.codes(m * k, levels: Int8GEMM.sourceLevels, seed: UInt64(m * 1000 + n))
            let b = Self.codes(k * n, levels: levels, seed: UInt64(k * 7 + n))
            var c = [Int32](repeating: -1, count: m * n)
            Int8GEMM.gemm(transB, m: m, n: n, k: k, a: a, b: b, c: &c)
            var wrong = 0
            for i in 0..<m {
                for j in 0..<n {
                    var s: Int64 = 0
                    for p in 0..<k { s += Int64(a[i * k + p]) * Int64(transB == .none ? b[p * n + j] : b[j * k + p]) }
                    if s != Int64(c[i * n + j]) { wrong += 1 }
                }
            }
            #expect(wrong == 0, "\(m)×\(k)×\(n) transB \(transB): \(wrong) wrong sums")
        }
    }

    /// The worst case for 16-bit intermediate sums: every source code at +127 or −127 and every
    /// weight code at ±weightLevels, same signs and alternating ones. The sums stay exact.
    @Test func extremeCodesDoNotSaturate() {
        let (m, n, k) = (16, 32, 256)
        let levels = Int8(Int8GEMM.weightLevels)
        for (sa, sb) in [(Int8(127), levels), (-127, levels), (127, -levels), (-127, -levels)] {
            let a = [Int8](repeating: sa, count: m * k)
            let b = (0..<(k * n)).map { $0 % 3 == 0 ? -sb : sb }
            var c = [Int32](repeating: 0, count: m * n)
            Int8GEMM.gemm(.transpose, m: m, n: n, k: k, a: a, b: b, c: &c)
            for j in 0..<n {
                var s: Int64 = 0
                for p in 0..<k { s += Int64(sa) * Int64(b[j * k + p]) }
                #expect(c.enumerated().filter { $0.offset % n == j }.allSatisfy { Int64($0.element) == s },
                        "column \(j), codes \(sa) × ±\(sb): sums saturated (oneDNN \(Int8GEMM.implementation(.transpose, n: n, k: k) ?? "?"))")
            }
        }
    }

    /// Row quantization: scale = max|v|/levels exactly, codes round(v·levels/max) to nearest even
    /// within ±levels (the same float operations in Swift give the same codes, over lengths that
    /// exercise the vector body and the scalar tail), |v − s·q| ≤ s/2 + 4u|v|; a zero row gives s = 0,
    /// a row with NaN or Inf gives s = NaN; a column scale multiplies first.
    @Test func rowsQuantizeToNearestCodes() {
        var d = TestData(seed: 4)
        for cols in [1, 7, 31, 32, 70, 129] {
            let rows = 5
            var x = d.normal(rows * cols, std: 3)
            for j in 0..<cols { x[3 * cols + j] = 0 }
            x[4 * cols + cols / 2] = .nan
            let columnScale = (0..<cols).map { Float(1 + $0 % 5) * 0.25 }
            for scaled in [false, true] {
                var q = [Int8](repeating: 0, count: rows * cols), s = [Float](repeating: -1, count: rows)
                columnScale.withUnsafeBufferPointer { cs in
                    Int8GEMM.quantizeRows(x, rows: rows, cols: cols, columnScale: scaled ? cs.baseAddress : nil, levels: 127, codes: &q, scales: &s)
                }
                for i in 0..<3 {
                    let v = (0..<cols).map { x[i * cols + $0] * (scaled ? columnScale[$0] : 1) }
                    let amax = v.map(abs).max()!
                    #expect(s[i] == amax / 127)
                    let inv = 127 / amax
                    for j in 0..<cols {
                        let expected = Int8(max(-127, min(127, (v[j] * inv).rounded(.toNearestOrEven))))
                        #expect(q[i * cols + j] == expected, "row \(i) col \(j) of \(cols)")
                        let err = Double(abs(v[j] - s[i] * Float(q[i * cols + j])))
                        #expect(err <= Double(s[i]) / 2 + 4 * RoundingBound.u * Double(abs(v[j])))
                    }
                }
                #expect(s[3] == 0 && q[(3 * cols)..<(4 * cols)].allSatisfy { $0 == 0 })
                #expect(s[4].isNaN)
            }
        }
    }

    /// The epilogue y = r_i·c_j·C_ij (+ y) does those float operations in that order on every path.
    @Test func epilogueScalesEachProduct() {
        let (rows, cols) = (3, 45)
        let c = (0..<(rows * cols)).map { Int32($0 * 7919 % 20011) - 10000 }
        let r: [Float] = [0.5, 1e-3, 3.25], cs = (0..<cols).map { Float($0 + 1) * 0.01 }
        for accumulate in [false, true] {
            for withColumns in [false, true] {
                var y = [Float](repeating: 2, count: rows * cols)
                cs.withUnsafeBufferPointer { p in
                    Int8GEMM.dequantize(c, rows: rows, cols: cols, rowScale: r, columnScale: withColumns ? p.baseAddress : nil,
                                        into: &y, accumulate: accumulate)
                }
                for i in 0..<rows {
                    for j in 0..<cols {
                        var t = withColumns ? r[i] * cs[j] : r[i]
                        t = t * Float(c[i * cols + j])
                        if accumulate { t = t + 2 }
                        #expect(y[i * cols + j] == t)
                    }
                }
            }
        }
    }
}
