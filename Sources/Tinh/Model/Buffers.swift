/// The bytes a model's activation buffers hold, counted by the buffers themselves as they grow
/// (and as they are freed). `keptBytes` is what a training forward saves for backward (residual
/// stream, per-block activations, the loss path, adapters' saved products); `scratchBytes` is
/// reused workspace (norm outputs, backward gradients), one copy per model.
public final class ActivationMemory {
    public fileprivate(set) var keptBytes = 0
    public fileprivate(set) var scratchBytes = 0
    public init() {}
    public var totalBytes: Int { keptBytes + scratchBytes }
}

/// A float buffer that grows to the largest size asked for and is then reused: activations are
/// allocated when the batch shape first grows, never per step. Reports its size to an
/// `ActivationMemory` under its role.
final class GrowableBuffer {
    enum Role { case kept, scratch }
    private var storage = Tensor(shape: [0])
    private let role: Role
    private let memory: ActivationMemory?
    var capacity: Int { storage.count }
    var ptr: UnsafeMutablePointer<Float> { storage.data }

    init(_ role: Role = .scratch, in memory: ActivationMemory? = nil) {
        self.role = role
        self.memory = memory
    }

    deinit { account(-storage.count) }

    /// Ensures room for `n` floats. Contents are not preserved when it grows.
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > storage.count {
            account(n - storage.count)
            storage = Tensor(shape: [n])
        }
        return storage.data
    }

    private func account(_ floats: Int) {
        guard let memory else { return }
        let bytes = floats * MemoryLayout<Float>.stride
        switch role {
        case .kept: memory.keptBytes += bytes
        case .scratch: memory.scratchBytes += bytes
        }
    }
}

/// What one decoder block saves in a training forward for its backward (llm.c style names).
/// Rows are batch·seq positions.
/// The norms' outputs, silu(gate)·up and the attention probabilities are not kept: backward
/// recomputes them (cheaply, bit for bit) into the shared `Workspace` — the norms and h only when a
/// Linear's backward reads its input. o_proj's input is kept here only when its backward reads it; otherwise it is scratch.
final class BlockActivations {
    let rstd1: GrowableBuffer    // [rows]           input_layernorm's 1/rms
    let q: GrowableBuffer        // [rows, heads·headDim]    after RoPE
    let k: GrowableBuffer        // [rows, kvHeads·headDim]  after RoPE
    let v: GrowableBuffer        // [rows, kvHeads·headDim]
    let attnOut: GrowableBuffer  // [rows, heads·headDim]    input of o_proj, when its backward reads it
    let res2: GrowableBuffer     // [rows, hidden]   residual after attention
    let rstd2: GrowableBuffer    // [rows]           post_attention_layernorm's 1/rms
    let gate: GrowableBuffer     // [rows, intermediate]
    let up: GrowableBuffer       // [rows, intermediate]

    init(memory: ActivationMemory?) {
        func kept() -> GrowableBuffer { GrowableBuffer(.kept, in: memory) }
        (rstd1, q, k, v, attnOut) = (kept(), kept(), kept(), kept(), kept())
        (res2, rstd2, gate, up) = (kept(), kept(), kept(), kept())
    }

    func reserve(rows: Int, keepAttnOut: Bool, config c: DecoderConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        rstd1.reserve(rows)
        q.reserve(rows * qDim); k.reserve(rows * kvDim); v.reserve(rows * kvDim)
        if keepAttnOut { attnOut.reserve(rows * qDim) }
        res2.reserve(rows * c.hiddenSize); rstd2.reserve(rows)
        gate.reserve(rows * c.intermediateSize); up.reserve(rows * c.intermediateSize)
    }
}

/// Scratch shared by all blocks (used by one block at a time), and the loss path's buffers.
final class Workspace {
    // forward (and recomputed in backward)
    let ln: GrowableBuffer          // [rows, hidden] the current norm's output, input of q/k/v or gate/up
    let h: GrowableBuffer           // [rows, intermediate] silu(gate)·up, input of down_proj
    let proj: GrowableBuffer        // [rows, hidden] o_proj / down_proj output before the residual add
    let probs: GrowableBuffer       // one row block of attention probabilities (forward)
    let attnOut: GrowableBuffer     // [rows, heads·headDim] attention output when o_proj's backward does not read it
    // backward
    let dResidual: GrowableBuffer   // [rows, hidden] gradient of the residual stream, updated in place
    let dLn: GrowableBuffer         // [rows, hidden] gradient of a norm's output
    let dAttnOut: GrowableBuffer    // [rows, heads·headDim]
    let dq: GrowableBuffer          // [rows, heads·headDim]
    let dk: GrowableBuffer          // [rows, kvHeads·headDim]
    let dv: GrowableBuffer          // [rows, kvHeads·headDim]
    let dH: GrowableBuffer          // [rows, intermediate] dL/dh, then dL/dgate in place
    let dUp: GrowableBuffer         // [rows, intermediate]
    let dScores: GrowableBuffer     // one row block's recomputed probabilities and dP / dS
    // loss path: only positions whose loss counts ("selected" rows); the first four are kept for backward
    let lossIn: GrowableBuffer      // [sel, hidden] final residual rows gathered
    let lossRstd: GrowableBuffer    // [sel]
    let logits: GrowableBuffer      // [sel, vocab] logits, then dlogits in place
    let lse: GrowableBuffer         // [sel] log-sum-exp per row
    let lossNorm: GrowableBuffer    // [sel, hidden] after the final norm (the head's input; read back only for its dW)
    let dLossNorm: GrowableBuffer   // [sel, hidden]
    let dLossIn: GrowableBuffer     // [sel, hidden]
    var selectedRows: [Int] = []
    var selectedTargets: [Int32] = []

    init(memory: ActivationMemory?) {
        func scratch() -> GrowableBuffer { GrowableBuffer(.scratch, in: memory) }
        func kept() -> GrowableBuffer { GrowableBuffer(.kept, in: memory) }
        (ln, h, proj, probs, attnOut) = (scratch(), scratch(), scratch(), scratch(), scratch())
        (dResidual, dLn, dAttnOut, dq, dk, dv) = (scratch(), scratch(), scratch(), scratch(), scratch(), scratch())
        (dH, dUp, dScores) = (scratch(), scratch(), scratch())
        (lossIn, lossRstd, logits, lse) = (kept(), kept(), kept(), kept())
        (lossNorm, dLossNorm, dLossIn) = (scratch(), scratch(), scratch())
    }

    func reserveBackward(rows: Int, seq: Int, config c: DecoderConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        dResidual.reserve(rows * c.hiddenSize); dLn.reserve(rows * c.hiddenSize)
        dAttnOut.reserve(rows * qDim); dq.reserve(rows * qDim)
        dk.reserve(rows * kvDim); dv.reserve(rows * kvDim)
        dH.reserve(rows * c.intermediateSize); dUp.reserve(rows * c.intermediateSize)
        dScores.reserve(2 * min(Attention.rowBlock, seq) * seq)
    }
}
