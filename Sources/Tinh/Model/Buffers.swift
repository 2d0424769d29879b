/// A float buffer that grows to the largest size asked for and is then reused: activations are
/// allocated when the batch shape first grows, never per step.
final class GrowableBuffer {
    private var storage = Tensor(shape: [0])
    var capacity: Int { storage.count }
    var ptr: UnsafeMutablePointer<Float> { storage.data }

    /// Ensures room for `n` floats. Contents are not preserved when it grows.
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > storage.count { storage = Tensor(shape: [n]) }
        return storage.data
    }
}

/// What one decoder block saves in a training forward for its backward (llm.c style names).
/// Rows are batch·seq positions.
/// The norms' outputs and silu(gate)·up are not kept: backward recomputes them (cheaply, bit for bit)
/// into the shared `Workspace.ln` / `Workspace.h`, which the Linears' saved inputs point to.
final class BlockActivations {
    let rstd1 = GrowableBuffer()    // [rows]           input_layernorm's 1/rms
    let q = GrowableBuffer()        // [rows, heads·headDim]    after RoPE
    let k = GrowableBuffer()        // [rows, kvHeads·headDim]  after RoPE
    let v = GrowableBuffer()        // [rows, kvHeads·headDim]
    let probs = GrowableBuffer()    // [batch, heads, seq, seq] attention probabilities
    let attnOut = GrowableBuffer()  // [rows, heads·headDim]    input of o_proj
    let res2 = GrowableBuffer()     // [rows, hidden]   residual after attention
    let rstd2 = GrowableBuffer()    // [rows]           post_attention_layernorm's 1/rms
    let gate = GrowableBuffer()     // [rows, intermediate]
    let up = GrowableBuffer()       // [rows, intermediate]

    func reserve(rows: Int, probs probsCount: Int, config c: LlamaConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        rstd1.reserve(rows)
        q.reserve(rows * qDim); k.reserve(rows * kvDim); v.reserve(rows * kvDim)
        probs.reserve(probsCount)
        attnOut.reserve(rows * qDim)
        res2.reserve(rows * c.hiddenSize); rstd2.reserve(rows)
        gate.reserve(rows * c.intermediateSize); up.reserve(rows * c.intermediateSize)
    }
}

/// Scratch shared by all blocks (used by one block at a time), and the loss path's buffers.
final class Workspace {
    // forward (and recomputed in backward)
    let ln = GrowableBuffer()          // [rows, hidden] the current norm's output, input of q/k/v or gate/up
    let h = GrowableBuffer()           // [rows, intermediate] silu(gate)·up, input of down_proj
    let proj = GrowableBuffer()        // [rows, hidden] o_proj / down_proj output before the residual add
    let probs = GrowableBuffer()       // one row block of attention probabilities when nothing is saved (inference)
    // backward
    let dResidual = GrowableBuffer()   // [rows, hidden] gradient of the residual stream, updated in place
    let dLn = GrowableBuffer()         // [rows, hidden] gradient of a norm's output
    let dAttnOut = GrowableBuffer()    // [rows, heads·headDim]
    let dq = GrowableBuffer()          // [rows, heads·headDim]
    let dk = GrowableBuffer()          // [rows, kvHeads·headDim]
    let dv = GrowableBuffer()          // [rows, kvHeads·headDim]
    let dH = GrowableBuffer()          // [rows, intermediate] dL/dh, then dL/dgate in place
    let dUp = GrowableBuffer()         // [rows, intermediate]
    let dScores = GrowableBuffer()     // [seq, seq] one head's dP / dS
    // loss path: only positions whose loss counts ("selected" rows)
    let lossIn = GrowableBuffer()      // [sel, hidden] final residual rows gathered
    let lossNorm = GrowableBuffer()    // [sel, hidden] after the final norm
    let lossRstd = GrowableBuffer()    // [sel]
    let logits = GrowableBuffer()      // [sel, vocab] logits, then dlogits in place
    let lse = GrowableBuffer()         // [sel] log-sum-exp per row
    let dLossNorm = GrowableBuffer()   // [sel, hidden]
    let dLossIn = GrowableBuffer()     // [sel, hidden]
    var selectedRows: [Int] = []
    var selectedTargets: [Int32] = []

    func reserveBackward(rows: Int, seq: Int, config c: LlamaConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        dResidual.reserve(rows * c.hiddenSize); dLn.reserve(rows * c.hiddenSize)
        dAttnOut.reserve(rows * qDim); dq.reserve(rows * qDim)
        dk.reserve(rows * kvDim); dv.reserve(rows * kvDim)
        dH.reserve(rows * c.intermediateSize); dUp.reserve(rows * c.intermediateSize)
        dScores.reserve(seq * seq)
    }
}
