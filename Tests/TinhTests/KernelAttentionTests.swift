import Foundation
import Testing
@testable import Tinh

@Suite struct KernelAttentionTests {
    /// Naive causal GQA attention in Double; K/V rows for batch b start at b·kvBatchStride.
    static func reference(q: Tensor, k: Tensor, v: Tensor, s: AttentionShape) -> [Double] {
        referenceWithBound(q: q, k: k, v: v, s: s).values
    }

    /// The reference and, per output entry, how far a float32 kernel may be from it whatever its
    /// summation order. A score q·k·scale of d terms is within δᵢⱼ = γ_{d+1}·Σ|q||k|·scale; moving
    /// the scores of a row by at most δ = maxⱼ δᵢⱼ moves each probability by a factor within
    /// e^{±2δ}; exp itself is within E = `RoundingBound.simdExp` relative; the normalising sum of n
    /// terms and the division add γ_{n+1}; and the output Σⱼ pⱼvⱼ of n terms γ_n. So
    /// |Δoutᵢ꜀| ≤ (e^{2δ} − 1 + 2E + γ_{n+1} + γ_n)·Σⱼ pⱼ|vⱼ꜀|.
    static func referenceWithBound(q: Tensor, k: Tensor, v: Tensor, s: AttentionShape) -> (values: [Double], bounds: [Double]) {
        var out = [Double](repeating: 0, count: s.batch * s.seqQ * s.qStride)
        var bounds = [Double](repeating: 0, count: out.count)
        let scale = 1 / Double(s.headDim).squareRoot()
        for b in 0..<s.batch { for h in 0..<s.heads {
            let g = h / (s.heads / s.kvHeads)
            for i in 0..<s.seqQ {
                let n = s.past + i + 1
                let qi = b * s.qBatchStride + i * s.qStride + h * s.headDim
                let scores = (0..<n).map { j -> Double in
                    let kj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    return (0..<s.headDim).map { Double(q[qi + $0]) * Double(k[kj + $0]) }.reduce(0, +) * scale
                }
                let delta = (0..<n).map { j -> Double in
                    let kj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    return RoundingBound.gamma(s.headDim + 1) * (0..<s.headDim).map { abs(Double(q[qi + $0]) * Double(k[kj + $0])) }.reduce(0, +) * scale
                }.max()!
                let relative = exp(2 * delta) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1) + RoundingBound.gamma(n)
                let m = scores.max()!
                let e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                for j in 0..<n {
                    let vj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    for c in 0..<s.headDim {
                        out[qi + c] += e[j] / z * Double(v[vj + c])
                        bounds[qi + c] += relative * e[j] / z * abs(Double(v[vj + c]))
                    }
                }
            }
        } }
        return (out, bounds)
    }

    /// Every entry within its bound (`referenceWithBound`); returns the worst error/bound ratio.
    static func worstRatio(_ out: Tensor, _ reference: (values: [Double], bounds: [Double])) -> Double {
        var worst = 0.0
        for i in reference.values.indices {
            worst = max(worst, abs(Double(out[i]) - reference.values[i]) / (reference.bounds[i] + Double(Float.leastNormalMagnitude)))
        }
        return worst
    }

    // seq 40 > the 32-row block: exercises partial blocks. kvHeads == heads and < heads (GQA).
    @Test(arguments: [(4, 4), (4, 2), (6, 1)])
    func forwardMatchesReference(heads: Int, kvHeads: Int) {
        var d = TestData(seed: 12)
        let s = AttentionShape(batch: 2, seqQ: 40, heads: heads, kvHeads: kvHeads, headDim: 8)
        let q = d.tensor([2, 40, s.qStride]), k = d.tensor([2, 40, s.kvStride]), v = d.tensor([2, 40, s.kvStride])
        let out = Tensor(shape: q.shape), probs = Tensor(shape: [s.probsCount])
        Attention.forward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s)
        let ratio = Self.worstRatio(out, Self.referenceWithBound(q: q, k: k, v: v, s: s))
        #expect(ratio <= 1, "error \(ratio)× the bound")
        // Without saving probabilities (inference scratch of one row block): the same output.
        let out2 = Tensor(shape: q.shape), scratch = Tensor(shape: [s.scratchCount])
        Attention.forward(out: out2.data, probs: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
        #expect(out2.array == out.array)
    }

    /// Queries after `past` cached positions in a longer cache buffer (the KV-cache path).
    @Test func forwardWithPastMatchesReference() {
        var d = TestData(seed: 13)
        let maxT = 50, kvDim = 2 * 8
        let s = AttentionShape(batch: 2, seqQ: 3, past: 36, heads: 4, kvHeads: 2, headDim: 8, kvBatchStride: maxT * kvDim)
        let q = d.tensor([2, 3, s.qStride]), k = d.tensor([2, maxT, kvDim]), v = d.tensor([2, maxT, kvDim])
        let out = Tensor(shape: q.shape), probs = Tensor(shape: [s.probsCount])
        Attention.forward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s)
        let ratio = Self.worstRatio(out, Self.referenceWithBound(q: q, k: k, v: v, s: s))
        #expect(ratio <= 1, "error \(ratio)× the bound")
    }

    @Test(arguments: [(2, 2), (4, 2)])
    func backwardMatchesFiniteDifferences(heads: Int, kvHeads: Int) {
        var d = TestData(seed: 14)
        let batch = 2, seq = 35, hd = 8
        let s = AttentionShape(batch: batch, seqQ: seq, heads: heads, kvHeads: kvHeads, headDim: hd)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let out = Tensor(shape: q.shape), probs = Tensor(shape: [s.probsCount])
        func loss() -> Double {
            Attention.forward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        dk.fill(7); dv.fill(7)   // backward must overwrite, not add to stale values
        let scratch = Tensor(shape: [s.backwardScratchCount])
        Attention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, q: q.data, k: k.data,
                           v: v.data, shape: s)
        GradCheck().check("attention dq", param: q.data, analytic: dq.array, loss: loss)
        GradCheck().check("attention dk", param: k.data, analytic: dk.array, loss: loss)
        GradCheck().check("attention dv", param: v.data, analytic: dv.array, loss: loss)
    }
}
