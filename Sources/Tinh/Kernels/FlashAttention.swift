import CFlash
import Dispatch

/// Causal attention fused and tiled, flash style, for every forward and backward without a KV
/// cache (training, eval, logits). Per (example, head), queries and keys go in 32×32 tiles: the
/// scores of one tile at a time, an online softmax, and P·V accumulated in place, so no score
/// matrix is ever in memory. Tiles start at each example's start, so packed examples never touch
/// each other's keys; tiles above the diagonal or outside a sliding window are skipped.
///
/// The forward saves the output and each softmax row's log-sum-exp; the backward recomputes a
/// tile's probabilities from them (FlashAttention-2's order: key tiles outer, so dK and dV of a
/// tile sum in scratch) with D = dO·O per row: the same 2 + 5 products as the blocked kernel, with
/// no probability row blocks written and read back through memory.
///
/// The kernel is C (CFlash): one body compiled for AVX-512, AVX2 and the baseline, chosen at run
/// time. `Attention` (GEMMs through BLAS) stays for the KV-cache path and as the reference.
public enum FlashAttention {
    public enum ISA: String, CaseIterable, Sendable, CustomStringConvertible {
        case generic, avx2, avx512
        var code: Int32 {
            switch self {
            case .generic: Int32(CFLASH_GENERIC)
            case .avx2: Int32(CFLASH_AVX2)
            case .avx512: Int32(CFLASH_AVX512)
            }
        }
        public var description: String { rawValue }
    }

    /// The kernels this CPU runs.
    public static let available: [ISA] = {
        let mask = cflash_isas()
        return ISA.allCases.filter { mask & $0.code != 0 }
    }()

    /// The widest of them: what the model uses.
    public static let best: ISA = available.last ?? .generic

    public static var tile: Int { Int(cflash_tile()) }

    static func cShape(_ s: AttentionShape) -> cflash_shape {
        cflash_shape(heads: s.heads, kv_heads: s.kvHeads, head_dim: s.headDim, q_stride: s.qStride, kv_stride: s.kvStride,
                     window: s.window ?? 0, scale: s.scale, softcap: s.softcap ?? 0)
    }

    /// Floats of scratch for one thread of `forward` or `backward` on examples of up to `seq`
    /// tokens: an example's keys and values transposed, and a few tiles.
    public static func scratchCount(headDim: Int, seq: Int) -> Int {
        var s = cflash_shape(heads: 1, kv_heads: 1, head_dim: headDim, q_stride: headDim, kv_stride: headDim,
                             window: 0, scale: 1, softcap: 0)
        return Int(cflash_scratch_floats(&s, seq))
    }

    public static func scratchCount(_ s: AttentionShape) -> Int { scratchCount(headDim: s.headDim, seq: s.seqQ) }

    /// e^x through the kernel's own vector exp for `isa` (x.count a multiple of 16): the accuracy
    /// contract the attention bounds assume, checked by the tests.
    static func exp(_ x: [Float], isa: ISA) -> [Float] {
        precondition(x.count % 16 == 0)
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { cflash_exp(isa.code, xp.baseAddress!, $0.baseAddress!, x.count) } }
        return y
    }

    /// Floats of the saved log-sum-exp: [batch, seq, heads].
    public static func lseCount(_ s: AttentionShape) -> Int { s.batch * s.seqQ * s.heads }

    /// Each example of the batch: (row, first token, tokens). Reads the segment table in place.
    @inline(__always) static func examples(_ s: AttentionShape, _ body: (_ b: Int, _ start: Int, _ count: Int) -> Void) {
        for b in 0..<s.batch {
            guard let segments = s.segments else { body(b, 0, s.seqQ); continue }
            let starts = segments.starts[b]
            for i in starts.indices {
                let end = i + 1 < starts.count ? starts[i + 1] : s.seqQ
                body(b, starts[i], end - starts[i])
            }
        }
    }

    /// Runs `body(example row, first token, tokens, first head, end head, worker)` for every
    /// (example, KV group) of the batch, the items dealt round-robin to `threads` workers: a
    /// group's heads share their K/V gradient, so one worker takes all of them. Which worker runs
    /// an item does not change its arithmetic, so results do not depend on the thread count.
    @inline(__always) static func eachGroup(_ s: AttentionShape, threads: Int,
                                            _ body: (_ b: Int, _ start: Int, _ count: Int, _ h0: Int, _ h1: Int, _ worker: Int) -> Void) {
        let gs = s.groupSize
        func work(_ w: Int) {
            var item = 0
            examples(s) { b, start, count in
                for g in 0..<s.kvHeads {
                    if item % threads == w { body(b, start, count, g * gs, (g + 1) * gs, w) }
                    item += 1
                }
            }
        }
        if threads <= 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
    }

    /// Writes `out` [batch, seqQ, heads·headDim] and `lse` (`lseCount` floats). Queries at
    /// positions 0..<seqQ (no KV cache: `past` must be 0); K/V rows at kvBatchStride per batch row.
    /// `scratch` holds `threads` · `scratchCount` floats.
    public static func forward(out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               shape s: AttentionShape, isa: ISA = best, threads: Int = 1) {
        precondition(s.past == 0, "flash attention runs without a KV cache")
        let cs = cShape(s), per = scratchCount(s)
        eachGroup(s, threads: threads) { b, start, count, h0, h1, w in
            var c = cs
            let qo = b * s.qBatchStride + start * s.qStride, kvo = b * s.kvBatchStride + start * s.kvStride
            cflash_forward(isa.code, &c, count, h0, h1, q + qo, k + kvo, v + kvo, out + qo,
                           lse + (b * s.seqQ + start) * s.heads, scratch + w * per)
        }
    }

    /// From dout (layout of out) and forward's `out` and `lse`: writes dq, dk and dv (dk, dv:
    /// [batch, seqQ, kvHeads·headDim], packed). `scratch` holds `threads` · `scratchCount` floats.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                shape s: AttentionShape, isa: ISA = best, threads: Int = 1) {
        precondition(s.past == 0 && s.kvBatchStride == s.seqQ * s.kvStride, "flash attention backward needs packed K/V and no cache")
        let cs = cShape(s), per = scratchCount(s)
        dk.update(repeating: 0, count: s.batch * s.kvBatchStride)
        dv.update(repeating: 0, count: s.batch * s.kvBatchStride)
        eachGroup(s, threads: threads) { b, start, count, h0, h1, w in
            var c = cs
            let qo = b * s.qBatchStride + start * s.qStride, kvo = b * s.kvBatchStride + start * s.kvStride
            cflash_backward(isa.code, &c, count, h0, h1, q + qo, k + kvo, v + kvo, out + qo, dout + qo,
                            lse + (b * s.seqQ + start) * s.heads, dq + qo, dk + kvo, dv + kvo, scratch + w * per)
        }
    }
}
