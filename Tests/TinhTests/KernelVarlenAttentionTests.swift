import Foundation
import Testing
@testable import Tinh

/// Packed examples (`AttentionSegments`): attention and RoPE on a packed row equal the plain kernels
/// on each example alone.
///
/// Attention is compared within derived rounding bounds, not bit for bit: the packed block runs
/// its GEMMs over other key ranges (from the first row's example start, with masked zeros) than
/// the example alone, and OpenBLAS's summation order depends on the shapes. RoPE is compared bit
/// for bit: each element gets the same table entries and the same two products and sum.
@Suite struct KernelVarlenAttentionTests {
    // seq 80 over blocks of 32: starts inside a block (5), a 1-token example (5..<6), one ending
    // at a block edge (31..<32), one starting on it (32, also 1 token), a block edge again (64) and
    // a last 1-token example (79). Row 1 is one example filling the row.
    static let seq = 80
    static let starts: [[Int]] = [[0, 5, 6, 31, 32, 33, 64, 79], [0]]

    /// The softcapped score's distance from the exact c·tanh(s/c), given the float score's own
    /// error `delta`: the slope of the cap is ≤ 1 (δ), x·(1/c) rounds the argument twice (2u|s|),
    /// and tanh and the product by c add (T + u)|capped|. simdTanh's relative error T: below
    /// |x| = 1/4 a polynomial (a few u); above, 1 − 2/(e^{2x}+1), whose fraction carries exp's E
    /// plus 2u, amplified by (1 − r)/r ≤ 3.1 at r ≥ tanh(1/4) and one more u: T ≤ 3.1(E + 2u) + u.
    static func cappedError(score: Double, capped: Double, delta: Double) -> Double {
        let t = 3.1 * (RoundingBound.simdExp + 2 * RoundingBound.u) + RoundingBound.u
        return delta + 2 * RoundingBound.u * abs(score) + (t + RoundingBound.u) * abs(capped)
    }

    /// Double reference of packed attention (each query sees keys of its own example from
    /// max(start, t − window + 1) to t) and per output entry the bound of
    /// `KernelAttentionTests.referenceWithBound`, with the cap's error added to the scores' δ.
    static func reference(q: Tensor, k: Tensor, v: Tensor, s: AttentionShape, segments: AttentionSegments)
        -> (values: [Double], bounds: [Double]) {
        var out = [Double](repeating: 0, count: s.batch * s.seqQ * s.qStride)
        var bounds = out
        let scale = Double(s.scale)
        for b in 0..<s.batch { for h in 0..<s.heads {
            let g = h / s.groupSize
            for i in 0..<s.seqQ {
                let lo = max(segments.tokenStart[b * s.seqQ + i], i - (s.window ?? (i + 1)) + 1)
                let keys = Array(lo...i), n = keys.count
                let qi = b * s.qBatchStride + i * s.qStride + h * s.headDim
                var scores = [Double](), delta = 0.0
                for j in keys {
                    let kj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    let terms = (0..<s.headDim).map { Double(q[qi + $0]) * Double(k[kj + $0]) * scale }
                    var sc = terms.reduce(0, +)
                    var d = RoundingBound.gamma(s.headDim + 1) * terms.map(abs).reduce(0, +)
                    if let c = s.softcap.map(Double.init) {
                        let capped = c * tanh(sc / c)
                        d = cappedError(score: sc, capped: capped, delta: d)
                        sc = capped
                    }
                    scores.append(sc); delta = max(delta, d)
                }
                let relative = exp(2 * delta) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1) + RoundingBound.gamma(n)
                let m = scores.max()!
                let e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                for (jj, j) in keys.enumerated() {
                    let vj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    for c in 0..<s.headDim {
                        out[qi + c] += e[jj] / z * Double(v[vj + c])
                        bounds[qi + c] += relative * e[jj] / z * abs(Double(v[vj + c]))
                    }
                }
            }
        } }
        return (out, bounds)
    }

    /// Rows `r` of batch row `b` of a [batch, seq, width] tensor, as a [1, r.count, width] tensor.
    static func slice(_ x: Tensor, b: Int, rows r: Range<Int>, seq: Int, width: Int) -> Tensor {
        let t = Tensor(shape: [1, r.count, width])
        t.data.update(from: x.data + (b * seq + r.lowerBound) * width, count: r.count * width)
        return t
    }

    struct Variant: Sendable, CustomStringConvertible {
        var heads, kvHeads: Int
        var window: Int?
        var softcap: Float?
        var description: String { "heads \(heads)/\(kvHeads) window \(window.map(String.init) ?? "-") cap \(softcap.map { "\($0)" } ?? "-")" }
    }

    static let variants: [Variant] = [
        Variant(heads: 4, kvHeads: 4), Variant(heads: 4, kvHeads: 2), Variant(heads: 6, kvHeads: 1),
        Variant(heads: 4, kvHeads: 2, window: 7), Variant(heads: 4, kvHeads: 2, window: 40),
        Variant(heads: 4, kvHeads: 2, softcap: 1.5), Variant(heads: 4, kvHeads: 1, window: 20, softcap: 1.5),
    ]

    static func shape(_ v: Variant, batch: Int, seq: Int, segments: AttentionSegments?) -> AttentionShape {
        AttentionShape(batch: batch, seqQ: seq, heads: v.heads, kvHeads: v.kvHeads, headDim: 8,
                       window: v.window, softcap: v.softcap, segments: segments)
    }

    /// Packed forward within the bound of the per-example reference; each example run alone by the
    /// unsegmented kernel within the same bound, so the two differ by at most twice it.
    @Test(arguments: variants)
    func forwardEqualsEachExampleAlone(_ variant: Variant) {
        var d = TestData(seed: 41)
        let seq = Self.seq, batch = Self.starts.count
        let segments = AttentionSegments(starts: Self.starts, seq: seq)
        let s = Self.shape(variant, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let out = Tensor(shape: q.shape), probs = Tensor(shape: [s.probsCount])
        probs.fill(7)   // every saved entry must be written
        Attention.forward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s)
        let ref = Self.reference(q: q, k: k, v: v, s: s, segments: segments)
        let ratio = KernelAttentionTests.worstRatio(out, ref)
        #expect(ratio <= 1, "packed: error \(ratio)× the bound")

        // Saved probabilities: exactly 0 outside each query's visible keys.
        var leaks = 0
        for b in 0..<batch { for h in 0..<s.heads { for i in 0..<seq {
            let lo = max(segments.tokenStart[b * seq + i], i - (s.window ?? (i + 1)) + 1)
            let row = probs.data + ((b * s.heads + h) * seq + i) * seq
            for j in 0..<seq where !(lo...i).contains(j) && row[j] != 0 { leaks += 1 }
        } } }
        #expect(leaks == 0)

        // Without saving probabilities: the same GEMMs and softmax over the same operands (only the
        // scratch address differs), so the same output.
        let out2 = Tensor(shape: q.shape), scratch = Tensor(shape: [s.scratchCount])
        Attention.forward(out: out2.data, probs: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
        #expect(out2.array == out.array)

        var worstAlone = 0.0, worstPair = 0.0
        for b in 0..<batch { for r in segments.ranges(row: b) {
            let a = Self.shape(variant, batch: 1, seq: r.count, segments: nil)
            let qa = Self.slice(q, b: b, rows: r, seq: seq, width: s.qStride)
            let ka = Self.slice(k, b: b, rows: r, seq: seq, width: s.kvStride), va = Self.slice(v, b: b, rows: r, seq: seq, width: s.kvStride)
            let oa = Tensor(shape: qa.shape), pa = Tensor(shape: [a.scratchCount])
            Attention.forward(out: oa.data, probs: pa.data, q: qa.data, k: ka.data, v: va.data, shape: a, saveProbs: false)
            for i in 0..<(r.count * s.qStride) {
                let g = (b * seq + r.lowerBound) * s.qStride + i
                let bound = ref.bounds[g] + Double(Float.leastNormalMagnitude)
                worstAlone = max(worstAlone, abs(Double(oa[i]) - ref.values[g]) / bound)
                worstPair = max(worstPair, abs(Double(oa[i]) - Double(out[g])) / (2 * bound))
            }
        } }
        #expect(worstAlone <= 1, "alone: error \(worstAlone)× the bound")
        #expect(worstPair <= 1, "packed vs alone: \(worstPair)× twice the bound")
    }

    /// The segmented backward against central differences of the packed forward (GQA, window, cap;
    /// boundaries inside a block, on its edge and 1-token examples).
    @Test(arguments: [Variant(heads: 2, kvHeads: 2), Variant(heads: 4, kvHeads: 2, window: 6),
                      Variant(heads: 4, kvHeads: 1, softcap: 1.5), Variant(heads: 2, kvHeads: 1, window: 34, softcap: 2)])
    func backwardMatchesFiniteDifferences(_ variant: Variant) {
        var d = TestData(seed: 42)
        let batch = 2, seq = 40
        let segments = AttentionSegments(starts: [[0, 3, 4, 31, 32, 33], [0, 20]], seq: seq)
        let s = Self.shape(variant, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let out = Tensor(shape: q.shape), scratch = Tensor(shape: [s.backwardScratchCount])
        func loss() -> Double {
            Attention.forward(out: out.data, probs: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        dq.fill(7); dk.fill(7); dv.fill(7)   // backward must overwrite every entry
        Attention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, q: q.data, k: k.data,
                           v: v.data, shape: s)
        GradCheck().check("segmented dq", param: q.data, analytic: dq.array, loss: loss)
        GradCheck().check("segmented dk", param: k.data, analytic: dk.array, loss: loss)
        GradCheck().check("segmented dv", param: v.data, analytic: dv.array, loss: loss)
    }

    // RoPE: headDim 40 (half 20: one SIMD block and a scalar tail).
    static let ropeStarts: [[Int]] = [[0, 5, 6, 31, 32, 33, 64, 69], [0]]

    /// Positions restart at each example: the packed rotation equals each example rotated alone
    /// from position 0, bit for bit, forward and backward (the same table rows and operations).
    @Test func ropeRestartsPerExample() {
        let batch = 2, seq = 70, heads = 3, headDim = 40, width = heads * headDim
        let rope = RoPE(headDim: headDim, maxPositions: seq, theta: 10000)
        let segments = AttentionSegments(starts: Self.ropeStarts, seq: seq)
        var d = TestData(seed: 43)
        let x = d.tensor([batch, seq, width])
        for backward in [false, true] {
            let y = Tensor(shape: x.shape)
            y.data.update(from: x.data, count: x.count)
            if backward { rope.backward(y.data, batch: batch, seq: seq, heads: heads, segments: segments) }
            else { rope.forward(y.data, batch: batch, seq: seq, heads: heads, segments: segments) }
            for b in 0..<batch { for r in segments.ranges(row: b) {
                let a = Self.slice(x, b: b, rows: r, seq: seq, width: width)
                if backward { rope.backward(a.data, batch: 1, seq: r.count, heads: heads) }
                else { rope.forward(a.data, batch: 1, seq: r.count, heads: heads) }
                #expect(a.array == Self.slice(y, b: b, rows: r, seq: seq, width: width).array, "row \(b) example \(r)")
            } }
        }
    }

    /// The segmented backward is the transpose of the segmented forward (central differences).
    @Test func ropeSegmentedBackwardMatchesFiniteDifferences() {
        let batch = 2, seq = 9, heads = 2, headDim = 40
        let rope = RoPE(headDim: headDim, maxPositions: seq, theta: 500)
        let segments = AttentionSegments(starts: [[0, 1, 4], [0, 8]], seq: seq)
        var d = TestData(seed: 44)
        let x = d.tensor([batch, seq, heads * headDim]), dy = d.normal(x.count)
        let y = Tensor(shape: x.shape)
        func loss() -> Double {
            y.data.update(from: x.data, count: x.count)
            rope.forward(y.data, batch: batch, seq: seq, heads: heads, segments: segments)
            return weightedSum(y.data, dy)
        }
        let dx = Tensor(shape: x.shape, values: dy)
        rope.backward(dx.data, batch: batch, seq: seq, heads: heads, segments: segments)
        GradCheck().check("segmented rope dx", param: x.data, analytic: dx.array, loss: loss)
    }

    @Test func segmentsTable() {
        let s = AttentionSegments(starts: [[0, 2, 3], [0]], seq: 5)
        #expect(s.tokenStart == [0, 0, 2, 3, 3, 0, 0, 0, 0, 0])
        #expect(s.ranges(row: 0) == [0..<2, 2..<3, 3..<5])
        #expect(s.ranges(row: 1) == [0..<5])
    }
}
