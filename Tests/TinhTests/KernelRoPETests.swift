import Foundation
import Testing
@testable import Tinh

@Suite struct KernelRoPETests {
    @Test(arguments: [16, 64]) func forwardIsHFRotateHalf(headDim: Int) {
        let batch = 2, seq = 5, heads = 3, start = 7, theta: Float = 10000
        let rope = RoPE(headDim: headDim, maxPositions: 64, theta: theta)
        var d = TestData(seed: 3)
        let x = d.tensor([batch, seq, heads * headDim])
        let orig = x.array
        rope.forward(x.data, batch: batch, seq: seq, heads: heads, startPos: start)
        // HF: q·cos + rotate_half(q)·sin, cos/sin = [freqs, freqs], rotate_half(q) = [−q2, q1].
        var ref = [Double](repeating: 0, count: orig.count), bound = [Double](repeating: 0, count: orig.count)
        let half = headDim / 2
        for b in 0..<batch { for t in 0..<seq { for h in 0..<heads {
            let base = ((b * seq + t) * heads + h) * headDim
            for i in 0..<headDim {
                let freq = 1 / pow(Double(theta), Double(2 * (i % half)) / Double(headDim))
                let angle = Double(start + t) * freq
                let rot = i < half ? -Double(orig[base + i + half]) : Double(orig[base + i - half])
                ref[base + i] = Double(orig[base + i]) * cos(angle) + rot * sin(angle)
                // The tables round the inverse frequency and the angle to Float32 (as transformers
                // does: ≤ 2u·angle off the exact angle) and cos/sin once more (u); the rotation's two
                // products and sum add γ₂: within (|x| + |rot|)·(2u·angle + u + γ₂).
                bound[base + i] = (abs(Double(orig[base + i])) + abs(rot)) * (2 * RoundingBound.u * angle + RoundingBound.u + RoundingBound.gamma(2))
            }
        } } }
        #expect(ref.indices.allSatisfy { abs(Double(x[$0]) - ref[$0]) <= bound[$0] })
    }

    @Test func backwardMatchesFiniteDifferences() {
        let batch = 2, seq = 4, heads = 2, headDim = 40   // half = 20: SIMD block + tail
        let rope = RoPE(headDim: headDim, maxPositions: 32, theta: 500)
        var d = TestData(seed: 4)
        let x = d.tensor([batch, seq, heads * headDim]), dy = d.normal(x.count)
        let y = Tensor(shape: x.shape)
        func loss() -> Double {
            y.data.update(from: x.data, count: x.count)
            rope.forward(y.data, batch: batch, seq: seq, heads: heads, startPos: 3)
            return weightedSum(y.data, dy)
        }
        let dx = Tensor(shape: x.shape, values: dy)
        rope.backward(dx.data, batch: batch, seq: seq, heads: heads, startPos: 3)
        GradCheck().check("rope dx", param: x.data, analytic: dx.array, loss: loss)
    }
}
