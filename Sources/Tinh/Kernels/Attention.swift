/// Where attention's operands live. Queries are [batch, seqQ, heads·headDim] with row stride
/// `qStride`; keys and values are [batch, ≥ past+seqQ, kvHeads·headDim] with row stride
/// `kvStride` and batch stride `kvBatchStride` (a KV cache can be longer than what is used).
/// Query row i sits at position past + i and sees keys 0...past+i (the last `window` of them with
/// a sliding window). Scores are q·k·`scale`, then c·tanh(s/c) with a `softcap` c.
public struct AttentionShape: Sendable {
    public var batch, seqQ, past, heads, kvHeads, headDim: Int
    public var qStride, kvStride, kvBatchStride: Int
    /// Keys within this many positions of the query, itself included; nil: all earlier keys.
    public var window: Int?
    /// The score scale; 1/√headDim unless the family says otherwise (Gemma's query_pre_attn_scalar).
    public var scale: Float
    /// Gemma 2's attention soft-cap.
    public var softcap: Float?
    /// Packed examples (varlen batches): per batch row, where each example starts; a query sees
    /// only keys of its own example. nil: each batch row is one sequence.
    public var segments: AttentionSegments?
    public var seqK: Int { past + seqQ }
    public var qBatchStride: Int { seqQ * qStride }
    /// Query heads per KV head (grouped-query attention).
    public var groupSize: Int { heads / kvHeads }
    /// Floats in the saved probabilities [batch, heads, seqQ, seqK].
    public var probsCount: Int { batch * heads * seqQ * seqK }
    /// Floats of scratch for a forward that keeps no probabilities: one row block.
    public var scratchCount: Int { min(Attention.rowBlock, seqQ) * seqK }
    /// Floats of scratch for `Attention.backward`: one row block's probabilities and their gradient
    /// (and, soft-capped, the capped scores).
    public var backwardScratchCount: Int { (softcap == nil ? 2 : 3) * scratchCount }

    public init(batch: Int, seqQ: Int, past: Int = 0, heads: Int, kvHeads: Int, headDim: Int,
                kvBatchStride: Int? = nil, window: Int? = nil, scale: Float? = nil, softcap: Float? = nil,
                segments: AttentionSegments? = nil) {
        precondition(segments == nil || (past == 0 && segments!.batch == batch && segments!.seq == seqQ),
                     "segments cover the batch's query rows, without a KV cache")
        self.segments = segments
        self.batch = batch; self.seqQ = seqQ; self.past = past
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.window = window; self.softcap = softcap
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
        qStride = heads * headDim
        kvStride = kvHeads * headDim
        self.kvBatchStride = kvBatchStride ?? (past + seqQ) * kvHeads * headDim
    }
}

/// Grouped-query causal attention, softmax(Q·Kᵀ/√d)·V per (batch, head), through GEMMs, with the
/// families' variations (`AttentionShape`: sliding window, score scale, soft-cap). The model runs it
/// for KV-cache decoding; without a cache it runs `FlashAttention`, and this kernel's training paths
/// (backward, packed examples) remain as the independent reference the flash tests compare against
/// and the baseline of `tinh attention-bench`.
/// Query rows go in blocks; a block computes scores only for the keys its last row can see,
/// so most of the masked upper triangle is never computed.
public enum Attention {
    public static let rowBlock = 32

    @inline(__always) static func blocks(_ s: AttentionShape, _ body: (_ r0: Int, _ rows: Int, _ cols: Int) -> Void) {
        var r0 = 0
        while r0 < s.seqQ {
            let rows = min(rowBlock, s.seqQ - r0)
            body(r0, rows, min(s.past + r0 + rows, s.seqK))
            r0 += rows
        }
    }

    /// Writes `out` [batch, seqQ, heads·headDim]. With `saveProbs`, `probs` receives every
    /// probability (`probsCount` floats, for inspection and tests); without, it is scratch of
    /// `scratchCount` floats reused for every row block. Training does not save them: backward
    /// recomputes each block's probabilities (the same GEMM and softmax, so the same values) —
    /// SmolLM2 at 4×128 would otherwise keep 71 MB of them.
    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               shape s: AttentionShape, saveProbs: Bool = true) {
        if let segments = s.segments {
            return segmentedForward(out: out, probs: probs, q: q, k: k, v: v, shape: s, segments: segments, saveProbs: saveProbs)
        }
        let tk = s.seqK
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let g = h / s.groupSize
                let qh = q + b * s.qBatchStride + h * s.headDim
                let kh = k + b * s.kvBatchStride + g * s.headDim
                let vh = v + b * s.kvBatchStride + g * s.headDim
                let oh = out + b * s.qBatchStride + h * s.headDim
                let p = probs + (b * s.heads + h) * s.seqQ * tk
                blocks(s) { r0, rows, cols in
                    let pr = saveProbs ? p + r0 * tk : probs
                    blockProbs(pr, capped: nil, qh: qh, kh: kh, r0: r0, rows: rows, cols: cols, shape: s)
                    BLAS.gemm(.none, .none, m: rows, n: s.headDim, k: cols,
                              a: pr, lda: tk, b: vh, ldb: s.kvStride, c: oh + r0 * s.qStride, ldc: s.qStride)
                }
            }
        }
    }

    /// One row block's probabilities, computed exactly as `forward` computes them (same GEMM
    /// arguments, row stride seqK), into `pr`; with a soft-cap, `capped` (if given) gets the capped
    /// scores that backward's chain rule needs.
    @inline(__always) static func blockProbs(_ pr: UnsafeMutablePointer<Float>, capped: UnsafeMutablePointer<Float>?,
                                             qh: UnsafePointer<Float>, kh: UnsafePointer<Float>, r0: Int, rows: Int, cols: Int,
                                             shape s: AttentionShape) {
        BLAS.gemm(.none, .transpose, m: rows, n: cols, k: s.headDim, alpha: s.scale,
                  a: qh + r0 * s.qStride, lda: s.qStride, b: kh, ldb: s.kvStride, c: pr, ldc: s.seqK)
        if let cap = s.softcap {
            for i in 0..<rows { Softcap.forward(pr + i * s.seqK, count: cols, cap: cap) }
            if let capped { capped.update(from: pr, count: rows * s.seqK) }
        }
        Softmax.causalForward(pr, rows: rows, cols: s.seqK, past: s.past + r0, window: s.window)
    }

    /// From dout (same layout as out) writes dq, and dk, dv ([batch, seqK, kvHeads·headDim], packed:
    /// kvBatchStride must equal seqK·kvStride). The probabilities are recomputed block by block
    /// (≈ 1/6 of attention's GEMM FLOPs more, no seq² buffer per head kept from the forward);
    /// `scratch` holds ≥ `backwardScratchCount` floats.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                shape s: AttentionShape) {
        precondition(s.kvBatchStride == s.seqK * s.kvStride, "attention backward needs packed K/V")
        if let segments = s.segments {
            return segmentedBackward(dq: dq, dk: dk, dv: dv, scratch: scratch, dout: dout, q: q, k: k, v: v,
                                     shape: s, segments: segments)
        }
        let scale = s.scale
        let tk = s.seqK
        dk.update(repeating: 0, count: s.batch * s.kvBatchStride)
        dv.update(repeating: 0, count: s.batch * s.kvBatchStride)
        let pr = scratch, dpr = scratch + s.scratchCount, capped = s.softcap == nil ? nil : scratch + 2 * s.scratchCount
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let g = h / s.groupSize
                let qOff = b * s.qBatchStride + h * s.headDim
                let kvOff = b * s.kvBatchStride + g * s.headDim
                blocks(s) { r0, rows, cols in
                    blockProbs(pr, capped: capped, qh: q + qOff, kh: k + kvOff, r0: r0, rows: rows, cols: cols, shape: s)
                    let doutR = dout + qOff + r0 * s.qStride
                    // dP = dOut · Vᵀ, then dS = softmax backward (in place).
                    BLAS.gemm(.none, .transpose, m: rows, n: cols, k: s.headDim,
                              a: doutR, lda: s.qStride, b: v + kvOff, ldb: s.kvStride, c: dpr, ldc: tk)
                    Softmax.causalBackward(dpr, probs: pr, rows: rows, cols: tk, past: s.past + r0, window: s.window)
                    if let capped, let cap = s.softcap {
                        for i in 0..<rows { Softcap.backward(dpr + i * tk, capped: capped + i * tk, count: cols, cap: cap) }
                    }
                    // dQ = scale · dS · K
                    BLAS.gemm(.none, .none, m: rows, n: s.headDim, k: cols, alpha: scale,
                              a: dpr, lda: tk, b: k + kvOff, ldb: s.kvStride, c: dq + qOff + r0 * s.qStride, ldc: s.qStride)
                    // dK += scale · dSᵀ · Q,  dV += Pᵀ · dOut  (heads of a group add into the same KV head)
                    BLAS.gemm(.transpose, .none, m: cols, n: s.headDim, k: rows, alpha: scale,
                              a: dpr, lda: tk, b: q + qOff + r0 * s.qStride, ldb: s.qStride,
                              beta: 1, c: dk + kvOff, ldc: s.kvStride)
                    BLAS.gemm(.transpose, .none, m: cols, n: s.headDim, k: rows,
                              a: pr, lda: tk, b: doutR, ldb: s.qStride, beta: 1, c: dv + kvOff, ldc: s.kvStride)
                }
            }
        }
    }

    // Packed examples (`AttentionSegments`, past = 0). The same row blocks, but a block's keys
    // start where its first row's example (and window) starts: no row of it sees keys before,
    // so those whole tiles are skipped. Rows of later examples in the block still get scores
    // for the earlier example's keys there, masked to 0 by the softmax. The score block is
    // [rows, n] (row stride seqK) with column c = key k0 + c.

    /// The first key any row of the block from `r0` sees.
    @inline(__always) static func firstKey(_ s: AttentionShape, r0: Int, segmentStart: Int) -> Int {
        max(segmentStart, s.window.map { r0 - $0 + 1 } ?? 0)
    }

    /// `blockProbs` for packed examples: the [rows, n] block (row stride `ld`) for keys k0..<k0+n.
    @inline(__always) static func segmentBlockProbs(_ pr: UnsafeMutablePointer<Float>, ld: Int, capped: UnsafeMutablePointer<Float>?,
                                                    qh: UnsafePointer<Float>, kh: UnsafePointer<Float>, r0: Int, rows: Int,
                                                    k0: Int, n: Int, segmentStart: UnsafePointer<Int>, shape s: AttentionShape) {
        BLAS.gemm(.none, .transpose, m: rows, n: n, k: s.headDim, alpha: s.scale,
                  a: qh + r0 * s.qStride, lda: s.qStride, b: kh + k0 * s.kvStride, ldb: s.kvStride, c: pr, ldc: ld)
        if let cap = s.softcap {
            for i in 0..<rows { Softcap.forward(pr + i * ld, count: n, cap: cap) }
            if let capped { capped.update(from: pr, count: rows * ld) }
        }
        Softmax.segmentedForward(pr, rows: rows, cols: n, ld: ld, firstKey: k0, firstRow: r0, window: s.window,
                                 segmentStart: segmentStart)
    }

    static func segmentedForward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                 q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 shape s: AttentionShape, segments: AttentionSegments, saveProbs: Bool) {
        let tk = s.seqK
        segments.tokenStart.withUnsafeBufferPointer { table in
            for b in 0..<s.batch {
                for h in 0..<s.heads {
                    let g = h / s.groupSize
                    let qh = q + b * s.qBatchStride + h * s.headDim
                    let kh = k + b * s.kvBatchStride + g * s.headDim
                    let vh = v + b * s.kvBatchStride + g * s.headDim
                    let oh = out + b * s.qBatchStride + h * s.headDim
                    let p = probs + (b * s.heads + h) * s.seqQ * tk
                    blocks(s) { r0, rows, cols in
                        let seg = table.baseAddress! + b * s.seqQ + r0
                        let k0 = firstKey(s, r0: r0, segmentStart: seg[0]), n = cols - k0
                        // Row stride seqK as in the unsegmented path, so backward's recomputation
                        // (into scratch) runs the same GEMMs as this forward.
                        let ld = tk
                        let pr = saveProbs ? p + r0 * tk + k0 : probs
                        if saveProbs {
                            for i in 0..<rows {
                                (p + (r0 + i) * tk).update(repeating: 0, count: k0)
                                (pr + i * tk + n).update(repeating: 0, count: tk - cols)
                            }
                        }
                        segmentBlockProbs(pr, ld: ld, capped: nil, qh: qh, kh: kh, r0: r0, rows: rows, k0: k0, n: n,
                                          segmentStart: seg, shape: s)
                        BLAS.gemm(.none, .none, m: rows, n: s.headDim, k: n,
                                  a: pr, lda: ld, b: vh + k0 * s.kvStride, ldb: s.kvStride, c: oh + r0 * s.qStride, ldc: s.qStride)
                    }
                }
            }
        }
    }

    static func segmentedBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                  scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                  q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                  shape s: AttentionShape, segments: AttentionSegments) {
        let scale = s.scale, tk = s.seqK
        dk.update(repeating: 0, count: s.batch * s.kvBatchStride)
        dv.update(repeating: 0, count: s.batch * s.kvBatchStride)
        let pr = scratch, dpr = scratch + s.scratchCount, capped = s.softcap == nil ? nil : scratch + 2 * s.scratchCount
        segments.tokenStart.withUnsafeBufferPointer { table in
            for b in 0..<s.batch {
                for h in 0..<s.heads {
                    let g = h / s.groupSize
                    let qOff = b * s.qBatchStride + h * s.headDim
                    let kvOff = b * s.kvBatchStride + g * s.headDim
                    blocks(s) { r0, rows, cols in
                        let seg = table.baseAddress! + b * s.seqQ + r0
                        let k0 = firstKey(s, r0: r0, segmentStart: seg[0]), n = cols - k0
                        let kvOff0 = kvOff + k0 * s.kvStride
                        segmentBlockProbs(pr, ld: tk, capped: capped, qh: q + qOff, kh: k + kvOff, r0: r0, rows: rows,
                                          k0: k0, n: n, segmentStart: seg, shape: s)
                        let doutR = dout + qOff + r0 * s.qStride
                        BLAS.gemm(.none, .transpose, m: rows, n: n, k: s.headDim,
                                  a: doutR, lda: s.qStride, b: v + kvOff0, ldb: s.kvStride, c: dpr, ldc: tk)
                        Softmax.segmentedBackward(dpr, probs: pr, rows: rows, cols: n, ld: tk, firstKey: k0, firstRow: r0,
                                                  window: s.window, segmentStart: seg)
                        if let capped, let cap = s.softcap {
                            for i in 0..<rows { Softcap.backward(dpr + i * tk, capped: capped + i * tk, count: n, cap: cap) }
                        }
                        BLAS.gemm(.none, .none, m: rows, n: s.headDim, k: n, alpha: scale,
                                  a: dpr, lda: tk, b: k + kvOff0, ldb: s.kvStride, c: dq + qOff + r0 * s.qStride, ldc: s.qStride)
                        BLAS.gemm(.transpose, .none, m: n, n: s.headDim, k: rows, alpha: scale,
                                  a: dpr, lda: tk, b: q + qOff + r0 * s.qStride, ldb: s.qStride,
                                  beta: 1, c: dk + kvOff0, ldc: s.kvStride)
                        BLAS.gemm(.transpose, .none, m: n, n: s.headDim, k: rows,
                                  a: pr, lda: tk, b: doutR, ldb: s.qStride, beta: 1, c: dv + kvOff0, ldc: s.kvStride)
                    }
                }
            }
        }
    }
}
