/// Activation bytes of a training step: what the buffers hold (`activationMemory`, counted by the
/// buffers as they grow) and, before any step, an estimate of it from the shapes.
extension DecoderModel {
    /// The bytes a fresh model's activation buffers reach after one training forward + backward on
    /// [batch, seq] with `lossRows` counted positions, with the adapters now attached: kept for
    /// backward, and scratch. It follows the buffers' own sizes line by line; a test holds it to
    /// `activationMemory` after such a step.
    public func activationEstimate(batch: Int, seq: Int, lossRows: Int) -> (kept: Int, scratch: Int) {
        let c = config, rows = batch * seq, n = lossRows
        let hid = c.hiddenSize, inter = c.intermediateSize
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        var kept = c.numLayers * rows * hid                           // residual[0..<L]
        var scratch = rows * hid                                      // residual[L]
        // With gradient checkpointing all blocks share one set of these buffers.
        let sets = recomputesBlocks ? 1 : blocks.count
        kept += sets * rows * (qDim + c.numHeads)                     // attnOut, attnLse (flash backward reads both)
        kept += sets * (2 * rows + rows * (qDim + 2 * kvDim))         // rstd1/2, q, k, v
        kept += sets * (rows * hid + 2 * rows * inter)                // res2, gate, up
        if c.spec.qkNorm { kept += sets * (rows * (qDim + kvDim) + rows * (c.numHeads + c.numKVHeads)) }  // qPre, kPre, their 1/rms
        if c.spec.outputNorms { kept += sets * 2 * (rows * hid + rows) }  // attnProj, mlpProj, their 1/rms
        kept += n * hid + logitsRows(lossRows: n) * c.vocabSize + 2 * n  // lossIn, logits (a chunk's when fused), lossRstd, lse
        let flashScratch = BLAS.threads * FlashAttention.scratchCount(headDim: c.headDim, seq: seq)   // one set per thread
        scratch += 2 * rows * hid + rows * inter + flashScratch       // ln, proj, h, probs (flash tiles)
        if c.spec.projections == .fused { scratch += rows * max(c.qkvRows, 2 * inter) }  // fused
        scratch += 2 * rows * hid + 2 * rows * qDim + 2 * rows * kvDim + 2 * rows * inter  // backward
        scratch += flashScratch                                                          // dScores (flash tiles)
        if c.spec.outputNorms { scratch += rows * hid }                                  // dProj
        if c.spec.qkNorm { scratch += rows * (qDim + kvDim) }                            // dqPre, dkPre
        scratch += 3 * n * hid                                        // lossNorm, dLossNorm, dLossIn
        for linear in linears {
            guard let f = linear.adapter?.activationFloats(rows: linear === lmHead ? n : rows) else { continue }
            kept += f.kept
            scratch += f.scratch
        }
        let bytes = MemoryLayout<Float>.stride
        return (kept * bytes, scratch * bytes)
    }
}
