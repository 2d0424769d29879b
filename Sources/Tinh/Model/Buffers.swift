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
/// Rows are batch·seq positions. Buffers a family does not use (q/k norms, output norms) stay empty.
/// The norms' outputs, act(gate)·up and the attention probabilities are not kept: backward
/// recomputes them (cheaply, bit for bit) into the shared `Workspace` — the norms and h only when a
/// Linear's backward reads its input. o_proj's input is kept here only when its backward reads it; otherwise it is scratch.
final class BlockActivations {
    let rstd1: GrowableBuffer       // [rows]           input_layernorm's 1/rms
    let qPre: GrowableBuffer        // [rows, heads·headDim]    q_proj's output, input of q_norm (q/k norms only)
    let kPre: GrowableBuffer        // [rows, kvHeads·headDim]  k_proj's output, input of k_norm
    let qRstd: GrowableBuffer       // [rows·heads]     q_norm's 1/rms per head
    let kRstd: GrowableBuffer       // [rows·kvHeads]
    let q: GrowableBuffer           // [rows, heads·headDim]    after RoPE
    let k: GrowableBuffer           // [rows, kvHeads·headDim]  after RoPE
    let v: GrowableBuffer           // [rows, kvHeads·headDim]
    let attnOut: GrowableBuffer     // [rows, heads·headDim]    attention's output (training: flash backward and o_proj's read it)
    let attnLse: GrowableBuffer     // [rows·heads]     attention's log-sum-exp per query and head (flash backward)
    let attnProj: GrowableBuffer    // [rows, hidden]   o_proj's output, input of the attention output norm (output norms only)
    let rstdAttnProj: GrowableBuffer // [rows]
    let res2: GrowableBuffer        // [rows, hidden]   residual after attention
    let rstd2: GrowableBuffer       // [rows]           the MLP norm's 1/rms
    let gate: GrowableBuffer        // [rows, intermediate]
    let up: GrowableBuffer          // [rows, intermediate]
    let mlpProj: GrowableBuffer     // [rows, hidden]   down_proj's output, input of the MLP output norm (output norms only)
    let rstdMLPProj: GrowableBuffer // [rows]

    init(memory: ActivationMemory?) {
        func kept() -> GrowableBuffer { GrowableBuffer(.kept, in: memory) }
        (rstd1, qPre, kPre, qRstd, kRstd, q, k, v, attnOut) = (kept(), kept(), kept(), kept(), kept(), kept(), kept(), kept(), kept())
        attnLse = kept()
        (attnProj, rstdAttnProj, res2, rstd2, gate, up, mlpProj, rstdMLPProj) = (kept(), kept(), kept(), kept(), kept(), kept(), kept(), kept())
    }

    /// `keepAttnOut`: attention's output is kept (training); `flash`: no KV cache, so attention
    /// runs fused and saves its log-sum-exp.
    func reserve(rows: Int, keepAttnOut: Bool, flash: Bool, config c: DecoderConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        rstd1.reserve(rows)
        if c.spec.qkNorm {
            qPre.reserve(rows * qDim); kPre.reserve(rows * kvDim)
            qRstd.reserve(rows * c.numHeads); kRstd.reserve(rows * c.numKVHeads)
        }
        q.reserve(rows * qDim); k.reserve(rows * kvDim); v.reserve(rows * kvDim)
        if keepAttnOut { attnOut.reserve(rows * qDim) }
        if flash { attnLse.reserve(rows * c.numHeads) }
        res2.reserve(rows * c.hiddenSize); rstd2.reserve(rows)
        gate.reserve(rows * c.intermediateSize); up.reserve(rows * c.intermediateSize)
        if c.spec.outputNorms {
            attnProj.reserve(rows * c.hiddenSize); rstdAttnProj.reserve(rows)
            mlpProj.reserve(rows * c.hiddenSize); rstdMLPProj.reserve(rows)
        }
    }
}

/// Scratch shared by all blocks (used by one block at a time), and the loss path's buffers.
final class Workspace {
    // forward (and recomputed in backward)
    let ln: GrowableBuffer          // [rows, hidden] the current norm's output, input of q/k/v or gate/up
    let h: GrowableBuffer           // [rows, intermediate] act(gate)·up, input of down_proj
    let proj: GrowableBuffer        // [rows, hidden] o_proj / down_proj output (normed, if so) before the residual add
    let probs: GrowableBuffer       // attention's scratch: flash tiles, or one row block of probabilities with a KV cache
    let attnOut: GrowableBuffer     // [rows, heads·headDim] attention output outside training
    let fused: GrowableBuffer       // [rows, max(q+2kv, 2·intermediate)] a fused projection's output, or its gradient
    // backward
    let dResidual: GrowableBuffer   // [rows, hidden] gradient of the residual stream, updated in place
    let dLn: GrowableBuffer         // [rows, hidden] gradient of a norm's output
    let dProj: GrowableBuffer       // [rows, hidden] gradient of o_proj's / down_proj's output through an output norm
    let dAttnOut: GrowableBuffer    // [rows, heads·headDim]
    let dq: GrowableBuffer          // [rows, heads·headDim]
    let dk: GrowableBuffer          // [rows, kvHeads·headDim]
    let dv: GrowableBuffer          // [rows, kvHeads·headDim]
    let dqPre: GrowableBuffer       // [rows, heads·headDim]   gradient of q_proj's output through q_norm
    let dkPre: GrowableBuffer       // [rows, kvHeads·headDim]
    let dH: GrowableBuffer          // [rows, intermediate] dL/dh, then dL/dgate in place
    let dUp: GrowableBuffer         // [rows, intermediate]
    let dScores: GrowableBuffer     // flash attention backward's tiles
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
        (ln, h, proj, probs, attnOut, fused) = (scratch(), scratch(), scratch(), scratch(), scratch(), scratch())
        (dResidual, dLn, dProj, dAttnOut, dq, dk, dv) = (scratch(), scratch(), scratch(), scratch(), scratch(), scratch(), scratch())
        (dqPre, dkPre, dH, dUp, dScores) = (scratch(), scratch(), scratch(), scratch(), scratch())
        (lossIn, lossRstd, logits, lse) = (kept(), kept(), kept(), kept())
        (lossNorm, dLossNorm, dLossIn) = (scratch(), scratch(), scratch())
    }

    func reserveBackward(rows: Int, seq: Int, config c: DecoderConfig) {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        dResidual.reserve(rows * c.hiddenSize); dLn.reserve(rows * c.hiddenSize)
        if c.spec.outputNorms { dProj.reserve(rows * c.hiddenSize) }
        dAttnOut.reserve(rows * qDim); dq.reserve(rows * qDim)
        dk.reserve(rows * kvDim); dv.reserve(rows * kvDim)
        if c.spec.qkNorm { dqPre.reserve(rows * qDim); dkPre.reserve(rows * kvDim) }
        dH.reserve(rows * c.intermediateSize); dUp.reserve(rows * c.intermediateSize)
        dScores.reserve(BLAS.threads * FlashAttention.scratchCount(headDim: c.headDim, seq: seq))
    }
}

/// Copies between a fused projection's [rows, w0 + w1 (+ w2)] output and one [rows, width] buffer
/// per part: q/k/v (three parts) or gate/up (two). Fixed arity, so the step builds no array.
enum Columns {
    typealias Part = (pointer: UnsafeMutablePointer<Float>, width: Int)

    static func split(_ fused: UnsafePointer<Float>, rows: Int, _ a: Part, _ b: Part, _ c: Part? = nil) {
        let total = a.width + b.width + (c?.width ?? 0)
        for r in 0..<rows {
            let row = fused + r * total
            (a.pointer + r * a.width).update(from: row, count: a.width)
            (b.pointer + r * b.width).update(from: row + a.width, count: b.width)
            if let c { (c.pointer + r * c.width).update(from: row + a.width + b.width, count: c.width) }
        }
    }

    static func join(_ fused: UnsafeMutablePointer<Float>, rows: Int, _ a: Part, _ b: Part, _ c: Part? = nil) {
        let total = a.width + b.width + (c?.width ?? 0)
        for r in 0..<rows {
            let row = fused + r * total
            row.update(from: a.pointer + r * a.width, count: a.width)
            (row + a.width).update(from: b.pointer + r * b.width, count: b.width)
            if let c { (row + a.width + b.width).update(from: c.pointer + r * c.width, count: c.width) }
        }
    }
}
