import Foundation
import Testing
@testable import Tinh

@Suite struct KernelSoftmaxTests {
    @Test func simdExpIsAccurate() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let v = simdExp(F16((0..<16).map { x + Float($0) * 0.0137 }))
            for j in 0..<16 {
                let ref = exp(Double(x + Float(j) * 0.0137))
                worst = max(worst, abs(Double(v[j]) - ref) / ref)
            }
            x += 0.173
        }
        #expect(worst < RoundingBound.simdExp, "the accuracy the attention and softmax bounds assume")
        #expect(simdExp(F16(repeating: -1000))[0] < 1e-37)
        #expect(simdExp(F16(repeating: 1000))[0].isFinite)
    }

    @Test func causalForwardMatchesReference() {
        let rows = 5, cols = 37, past = 30   // row i sees 31+i keys: SIMD blocks + tails
        var d = TestData(seed: 5)
        let s = d.tensor([rows, cols], std: 3)
        let ref: [Double] = (0..<rows).flatMap { i -> [Double] in
            let n = past + i + 1
            let row = (0..<cols).map { Double(s[i * cols + $0]) }
            let m = row[0..<n].max()!
            let z = row[0..<n].map { exp($0 - m) }.reduce(0, +)
            return (0..<cols).map { $0 < n ? exp(row[$0] - m) / z : 0 }
        }
        Softmax.causalForward(s.data, rows: rows, cols: cols, past: past)
        // Each e^{x−m} is within the exp's relative accuracy E (x − m is exact: Sterbenz), the sum
        // of ≤ 37 terms within γ₃₇ and the division one more u: pⱼ within (2E + γ₃₈)·pⱼ; masked ones are 0.
        let relative = 2 * RoundingBound.simdExp + RoundingBound.gamma(cols + 1)
        let worst = ref.indices.map { abs(Double(s[$0]) - ref[$0]) - relative * ref[$0] }.max() ?? 0
        #expect(worst <= 0, "an entry exceeds its bound by \(worst)")
    }

    @Test func causalBackwardMatchesFiniteDifferences() {
        let rows = 6, cols = 21, past = 15
        var d = TestData(seed: 6)
        let s = d.tensor([rows, cols], std: 2), dy = d.normal(rows * cols)
        let p = Tensor(shape: s.shape)
        func loss() -> Double {
            p.data.update(from: s.data, count: s.count)
            Softmax.causalForward(p.data, rows: rows, cols: cols, past: past)
            return weightedSum(p.data, dy)
        }
        _ = loss()
        let ds = Tensor(shape: s.shape, values: dy)
        Softmax.causalBackward(ds.data, probs: p.data, rows: rows, cols: cols, past: past)
        GradCheck().check("softmax ds", param: s.data, analytic: ds.array, loss: loss)
    }
}
