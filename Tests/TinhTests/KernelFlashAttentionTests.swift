import Foundation
import Testing
@testable import Tinh

/// `FlashAttention` (the fused, tiled kernel) against the Double references of
/// `KernelVarlenAttentionTests` within their derived flash bounds, against finite differences, and
/// against the blocked GEMM kernel, on every instruction set this CPU has. Head dims 8 (scalar
/// column tails only), 40 (vectors and a tail) and 64 (whole register tiles); rows of examples
/// that end inside a tile, on a tile edge, 1-token examples, and one example spanning three tiles.
@Suite struct KernelFlashAttentionTests {
    typealias Variant = KernelVarlenAttentionTests.Variant

    struct Case: Sendable, CustomStringConvertible {
        var isa: FlashAttention.ISA
        var headDim: Int
        var variant: Variant
        var description: String { "\(isa) d=\(headDim) \(variant)" }
    }

    static let seq = 80
    static let starts: [[Int]] = [[0, 5, 6, 31, 32, 33, 64, 79], [0]]

    static let cases: [Case] = FlashAttention.available.flatMap { isa in
        [Case(isa: isa, headDim: 8, variant: Variant(heads: 4, kvHeads: 2)),
         Case(isa: isa, headDim: 40, variant: Variant(heads: 3, kvHeads: 1)),
         Case(isa: isa, headDim: 64, variant: Variant(heads: 2, kvHeads: 2)),
         Case(isa: isa, headDim: 8, variant: Variant(heads: 4, kvHeads: 2, window: 7)),
         Case(isa: isa, headDim: 40, variant: Variant(heads: 2, kvHeads: 1, window: 40)),
         Case(isa: isa, headDim: 8, variant: Variant(heads: 4, kvHeads: 2, softcap: 1.5)),
         Case(isa: isa, headDim: 64, variant: Variant(heads: 2, kvHeads: 1, window: 20, softcap: 1.5))]
    }

    static func shape(_ c: Case, batch: Int, seq: Int, segments: AttentionSegments?) -> AttentionShape {
        AttentionShape(batch: batch, seqQ: seq, heads: c.variant.heads, kvHeads: c.variant.kvHeads, headDim: c.headDim,
                       window: c.variant.window, softcap: c.variant.softcap, segments: segments)
    }

    /// The packed rows of `starts` and random q, k, v and dout for them.
    static func packedInputs(_ c: Case, seed: UInt64)
        -> (s: AttentionShape, segments: AttentionSegments, q: Tensor, k: Tensor, v: Tensor, dy: [Float]) {
        var d = TestData(seed: seed)
        let batch = starts.count
        let segments = AttentionSegments(starts: starts, seq: seq)
        let s = shape(c, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        return (s, segments, q, k, v, d.normal(q.count))
    }

    /// The kernels' own vector exp (not Tinh's Swift simdExp, though the same algorithm) holds the
    /// accuracy the bounds assume (`RoundingBound.simdExp`) on every ISA, over exp's whole range.
    @Test(arguments: FlashAttention.available)
    func expIsAccurate(_ isa: FlashAttention.ISA) {
        var x: [Float] = []
        var t: Float = -87
        while t < 88 { x.append(t); t += 0.0137 }
        x += [Float](repeating: 0, count: (16 - x.count % 16) % 16)
        let y = FlashAttention.exp(x, isa: isa)
        let worst = zip(x, y).map { abs(Double($1) - Foundation.exp(Double($0))) / Foundation.exp(Double($0)) }.max()!
        #expect(worst < RoundingBound.simdExp, "\(isa): worst relative error \(worst)")
    }

    static func ratio(_ x: Float, _ value: Double, _ bound: Double) -> Double {
        abs(Double(x) - value) / (bound + Double(Float.leastNormalMagnitude))
    }

    /// The output within the flash bound of the packed reference; the log-sum-exp is what the
    /// backward needs (checked through it below); the blocked kernel within the plain bound, so the
    /// two kernels differ by at most the sum of both.
    @Test(arguments: cases)
    func forwardMatchesReference(_ c: Case) {
        let (s, segments, q, k, v, _) = Self.packedInputs(c, seed: 51)
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [FlashAttention.lseCount(s)])
        out.fill(7)
        let scratch = Tensor(shape: [FlashAttention.scratchCount(s)])
        FlashAttention.forward(out: out.data, lse: lse.data, scratch: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, isa: c.isa)
        let ref = KernelVarlenAttentionTests.reference(q: q, k: k, v: v, s: s, segments: segments, flash: true)
        let worst = KernelAttentionTests.worstRatio(out, ref)
        #expect(worst <= 1, "flash: error \(worst)× the bound")

        let blocked = Tensor(shape: q.shape), probs = Tensor(shape: [s.scratchCount])
        Attention.forward(out: blocked.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
        let plain = KernelVarlenAttentionTests.reference(q: q, k: k, v: v, s: s, segments: segments)
        var pair = 0.0
        for i in 0..<out.count { pair = max(pair, Self.ratio(out[i], Double(blocked[i]), ref.bounds[i] + plain.bounds[i])) }
        #expect(pair <= 1, "flash vs blocked: \(pair)× the sum of their bounds")
    }

    /// dq, dk, dv within the flash bound of the packed reference backward.
    @Test(arguments: cases)
    func backwardMatchesReference(_ c: Case) {
        let (s, segments, q, k, v, dy) = Self.packedInputs(c, seed: 52)
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [FlashAttention.lseCount(s)])
        let scratch = Tensor(shape: [FlashAttention.scratchCount(s)])
        FlashAttention.forward(out: out.data, lse: lse.data, scratch: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, isa: c.isa)
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        dq.fill(7); dk.fill(7); dv.fill(7)   // every entry must be written
        FlashAttention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, out: out.data, lse: lse.data,
                                q: q.data, k: k.data, v: v.data, shape: s, isa: c.isa)
        let ref = KernelVarlenAttentionTests.backwardReference(q: q, k: k, v: v, dy: dy, s: s, segments: segments, flash: true)
        var worst = 0.0
        for i in 0..<q.count { worst = max(worst, Self.ratio(dq[i], ref.dq[i], ref.dqBound[i])) }
        for i in 0..<k.count {
            worst = max(worst, Self.ratio(dk[i], ref.dk[i], ref.dkBound[i]), Self.ratio(dv[i], ref.dv[i], ref.dvBound[i]))
        }
        #expect(worst <= 1, "flash backward: error \(worst)× the bound")
    }

    /// The backward against central differences of the flash forward itself.
    @Test(arguments: FlashAttention.available.flatMap { isa in
        [Case(isa: isa, headDim: 8, variant: Variant(heads: 4, kvHeads: 2, window: 6)),
         Case(isa: isa, headDim: 40, variant: Variant(heads: 2, kvHeads: 1, softcap: 2))]
    })
    func backwardMatchesFiniteDifferences(_ c: Case) {
        var d = TestData(seed: 53)
        let batch = 2, seq = 40
        let segments = AttentionSegments(starts: [[0, 3, 4, 31, 32, 33], [0, 20]], seq: seq)
        let s = Self.shape(c, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [FlashAttention.lseCount(s)])
        let scratch = Tensor(shape: [FlashAttention.scratchCount(s)])
        func loss() -> Double {
            FlashAttention.forward(out: out.data, lse: lse.data, scratch: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, isa: c.isa)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        FlashAttention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, out: out.data, lse: lse.data,
                                q: q.data, k: k.data, v: v.data, shape: s, isa: c.isa)
        GradCheck().check("flash dq", param: q.data, analytic: dq.array, loss: loss)
        GradCheck().check("flash dk", param: k.data, analytic: dk.array, loss: loss)
        GradCheck().check("flash dv", param: v.data, analytic: dv.array, loss: loss)
    }

    /// Tiles start at each example's start, so an example packed in a row runs the same kernel
    /// calls on the same operands as the example alone: out, lse, dq, dk and dv equal bit for bit.
    @Test(arguments: FlashAttention.available)
    func packedEqualsEachExampleAloneBitForBit(_ isa: FlashAttention.ISA) {
        var d = TestData(seed: 54)
        let batch = Self.starts.count, seq = Self.seq, headDim = 40
        let segments = AttentionSegments(starts: Self.starts, seq: seq)
        func shape(batch: Int, seq: Int, segments: AttentionSegments?) -> AttentionShape {
            AttentionShape(batch: batch, seqQ: seq, heads: 4, kvHeads: 2, headDim: headDim, window: 20, segments: segments)
        }
        let s = shape(batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let scratch = Tensor(shape: [FlashAttention.scratchCount(s)])
        func run(_ s: AttentionShape, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ dy: [Float]) -> (out: Tensor, lse: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) {
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [FlashAttention.lseCount(s)])
            let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
            FlashAttention.forward(out: out.data, lse: lse.data, scratch: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, isa: isa)
            FlashAttention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, out: out.data, lse: lse.data,
                                    q: q.data, k: k.data, v: v.data, shape: s, isa: isa)
            return (out, lse, dq, dk, dv)
        }
        let packed = run(s, q, k, v, dy)
        var mismatches = 0
        for b in 0..<batch { for r in segments.ranges(row: b) {
            let a = shape(batch: 1, seq: r.count, segments: nil)
            let slice = { (x: Tensor, w: Int) in KernelVarlenAttentionTests.slice(x, b: b, rows: r, seq: seq, width: w) }
            let qBase = (b * seq + r.lowerBound) * s.qStride
            let alone = run(a, slice(q, s.qStride), slice(k, s.kvStride), slice(v, s.kvStride),
                            Array(dy[qBase..<(qBase + r.count * s.qStride)]))
            let pairs = [(alone.out, slice(packed.out, s.qStride)), (alone.dq, slice(packed.dq, s.qStride)),
                         (alone.dk, slice(packed.dk, s.kvStride)), (alone.dv, slice(packed.dv, s.kvStride)),
                         (alone.lse, slice(packed.lse, s.heads))]
            for (x, y) in pairs where x.array != y.array { mismatches += 1 }
        } }
        #expect(mismatches == 0)
    }

    /// Work is dealt to threads by (example, KV group), each item computed the same way whichever
    /// worker runs it: 1 and 3 threads give the same bits.
    @Test func threadsDoNotChangeTheResult() {
        var d = TestData(seed: 55)
        let batch = Self.starts.count, seq = Self.seq, headDim = 40
        let s = AttentionShape(batch: batch, seqQ: seq, heads: 6, kvHeads: 3, headDim: headDim,
                               segments: AttentionSegments(starts: Self.starts, seq: seq))
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        var results: [[Float]] = []
        for threads in [1, 3] {
            let scratch = Tensor(shape: [threads * FlashAttention.scratchCount(s)])
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [FlashAttention.lseCount(s)])
            let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
            FlashAttention.forward(out: out.data, lse: lse.data, scratch: scratch.data, q: q.data, k: k.data, v: v.data,
                                   shape: s, threads: threads)
            FlashAttention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, out: out.data,
                                    lse: lse.data, q: q.data, k: k.data, v: v.data, shape: s, threads: threads)
            results.append(out.array + lse.array + dq.array + dk.array + dv.array)
        }
        #expect(results[0] == results[1])
    }
}
