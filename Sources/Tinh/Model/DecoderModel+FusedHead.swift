import Foundation

/// The training loss path in row chunks: final norm, then per chunk of loss rows the LM head,
/// cross-entropy, its backward (for a loss scale of 1) and the head's dX, so that the logits of
/// only one chunk exist at a time (SmolLM2, 4×128 rows: 50 MB for a 256-row chunk instead of
/// 100 MB for all rows). Same FLOPs as computing all logits first; backward then only scales
/// dL/d(norm output) by the loss scale. Used when enabled (`headChunkRows` > 0) and the head's
/// backward needs no input (no dW of the head, no adapter on it); otherwise every row's logits are kept.
extension DecoderModel {
    /// Rows per chunk of the fused loss path for new models (`headChunkRows`); 0: never fuse (all
    /// logits first, as a plain head). The `tinh` command's TINH_HEAD_CHUNK_ROWS sets another (through
    /// `Trainer(headChunkRows:)`, `TrainingBenchmark.Options.headChunkRows` or the model's `headChunkRows`). Each chunk's dX GEMM packs the whole head
    /// weight again (SmolLM2: 113 MB), so small chunks cost time: SmolLM2 4×128 text data, 1 thread
    /// (head forward on oneDNN), head + loss phase 391 ms unfused, 403 ms with 256-row chunks,
    /// 453 ms with 128-row chunks; peak RSS 995 / 947 / 923 MB.
    public static let defaultHeadChunkRows = 256

    var usesFusedHead: Bool { headChunkRows > 0 && !lmHead.backwardNeedsInput }

    /// Loss rows' logits that exist at once: a chunk when fused, else all of them.
    func logitsRows(lossRows n: Int) -> Int { usesFusedHead ? min(n, headChunkRows) : n }

    /// Summed loss and count over the selected rows; fills ws.lossIn/lossNorm/lossRstd/lse and, with
    /// `forBackward`, ws.dLossNorm = dL/d(norm output) for a loss scale of 1.
    func fusedHeadAndLoss(predictions: UnsafeMutablePointer<Int32>?, forBackward: Bool) -> (loss: Double, count: Int) {
        let selected = ws.selectedRows
        let n = selected.count, hid = config.hiddenSize, vocab = config.vocabSize
        ws.lossIn.reserve(n * hid); ws.lossNorm.reserve(n * hid); ws.lossRstd.reserve(n); ws.lse.reserve(n)
        if forBackward { ws.dLossNorm.reserve(n * hid) }
        guard n > 0 else { return (0, 0) }
        let logits = ws.logits.reserve(logitsRows(lossRows: n) * vocab)
        let last = residual[config.numLayers].ptr
        for (i, r) in selected.enumerated() {
            (ws.lossIn.ptr + i * hid).update(from: last + r * hid, count: hid)
        }
        RMSNorm.forward(out: ws.lossNorm.ptr, rstd: ws.lossRstd.ptr, inp: ws.lossIn.ptr, weight: finalNorm.weight.data,
                        rows: n, dim: hid, eps: config.rmsNormEps, shift: config.spec.normShift)
        let cap = config.spec.finalLogitSoftcap
        var loss = 0.0, count = 0
        ws.selectedTargets.withUnsafeBufferPointer { targets in
            var r0 = 0
            while r0 < n {
                let rows = min(headChunkRows, n - r0)
                lmHead.forward(ws.lossNorm.ptr + r0 * hid, logits, rows: rows, training: forBackward)
                if let cap { Softcap.forward(logits, count: rows * vocab, cap: cap) }
                let t = targets.baseAddress! + r0, lse = ws.lse.ptr + r0
                let (l, c) = CrossEntropy.forward(logits: logits, targets: t, mask: nil, lse: lse,
                                                  predictions: predictions.map { $0 + r0 }, rows: rows, vocab: vocab)
                loss += l
                count += c
                if forBackward {
                    CrossEntropy.backward(dlogits: logits, logits: logits, targets: t, mask: nil, lse: lse,
                                          rows: rows, vocab: vocab, scale: 1, softcap: cap)
                    lmHead.backward(logits, ws.dLossNorm.ptr + r0 * hid, input: nil, rows: rows)
                }
                r0 += rows
            }
        }
        return (loss, count)
    }
}

/// x[i] *= s
@inline(__always) func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
    let sv = F16(repeating: s), vecEnd = n & ~15
    var i = 0
    while i < vecEnd { store16(load16(x + i) * sv, x + i); i += 16 }
    while i < n { x[i] *= s; i += 1 }
}
