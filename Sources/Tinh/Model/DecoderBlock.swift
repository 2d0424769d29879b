/// A norm's frozen weight and, when requested, its gradient.
public final class NormWeight {
    public let name: String
    /// Replaced only by full fine-tuning, which moves it into its flat trainable buffer.
    public internal(set) var weight: Tensor
    public var grad: Tensor?
    init(name: String, weight: Tensor) { self.name = name; self.weight = weight }
}

/// Where a block's attention finds its keys and values during incremental decoding.
struct CacheSlot {
    let keys: UnsafeMutablePointer<Float>     // [batch, maxTokens, kvHeads·headDim]
    let values: UnsafeMutablePointer<Float>
    let maxTokens: Int
    let past: Int                            // tokens already in the cache
}

/// One Llama decoder block: x + attn(norm(x)), then + mlp(norm(·)).
public final class DecoderBlock {
    public let index: Int
    public let inputNorm: NormWeight
    public let postAttentionNorm: NormWeight
    public let q: Linear, k: Linear, v: Linear, o: Linear
    public let gate: Linear, up: Linear, down: Linear
    let config: DecoderConfig
    var acts: BlockActivations

    init(index i: Int, config c: DecoderConfig, table: WeightTable, memory: ActivationMemory? = nil) throws {
        let p = DecoderConfig.blockPrefix(i)
        let hid = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        // Any projection may carry a bias (Llama's attention_bias/mlp_bias); Qwen2-style configs require q/k/v ones.
        func linear(_ sub: String, _ out: Int, _ inp: Int, biasRequired: Bool = false) throws -> Linear {
            let name = p + sub
            let b = biasRequired ? try table.require(name + ".bias", [out]) : try table.optional(name + ".bias", [out])
            return Linear(name: name, frozen: try table.requireFrozen(name + ".weight", [out, inp]), bias: b, memory: memory)
        }
        index = i
        config = c
        acts = BlockActivations(memory: memory)
        inputNorm = NormWeight(name: p + "input_layernorm.weight", weight: try table.require(p + "input_layernorm.weight", [hid]))
        postAttentionNorm = NormWeight(name: p + "post_attention_layernorm.weight",
                                       weight: try table.require(p + "post_attention_layernorm.weight", [hid]))
        q = try linear("self_attn.q_proj", qDim, hid, biasRequired: c.attentionBias)
        k = try linear("self_attn.k_proj", kvDim, hid, biasRequired: c.attentionBias)
        v = try linear("self_attn.v_proj", kvDim, hid, biasRequired: c.attentionBias)
        o = try linear("self_attn.o_proj", hid, qDim)
        gate = try linear("mlp.gate_proj", c.intermediateSize, hid)
        up = try linear("mlp.up_proj", c.intermediateSize, hid)
        down = try linear("mlp.down_proj", hid, c.intermediateSize)
    }

    /// Projections in Hugging Face order.
    public var linears: [Linear] { [q, k, v, o, gate, up, down] }

    /// Whether anything in this block trains: an adapter, a weight or bias gradient, a norm gradient.
    var hasTrainablePart: Bool {
        func trains(_ l: Linear) -> Bool { l.adapter != nil || l.weightGrad != nil || l.biasGrad != nil }
        return trains(q) || trains(k) || trains(v) || trains(o) || trains(gate) || trains(up) || trains(down)
            || inputNorm.grad != nil || postAttentionNorm.grad != nil
    }

    /// out = block(x) for [batch, seq] positions starting at `cache?.past ?? 0`. With `training`, saves
    /// what `backward` needs; with a cache, appends this call's keys/values to it and attends over it.
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch: Int, seq: Int,
                 rope: RoPE, ws: Workspace, cache: CacheSlot?, training: Bool) {
        let c = config, a = acts, rows = batch * seq
        let hid = c.hiddenSize, kvDim = c.numKVHeads * c.headDim
        let past = cache?.past ?? 0
        var shape = AttentionShape(batch: batch, seqQ: seq, past: past, heads: c.numHeads,
                                   kvHeads: c.numKVHeads, headDim: c.headDim,
                                   kvBatchStride: cache.map { $0.maxTokens * kvDim })
        // o_proj's input is kept only when its backward will read it (a dW, or an adapter that needs x).
        let keepAttnOut = training && o.backwardNeedsInput
        a.reserve(rows: rows, keepAttnOut: keepAttnOut, config: c)
        let probs = ws.probs.reserve(shape.scratchCount)
        let attnOut = keepAttnOut ? a.attnOut.ptr : ws.attnOut.reserve(rows * c.numHeads * c.headDim)
        ws.proj.reserve(rows * hid); ws.ln.reserve(rows * hid); ws.h.reserve(rows * c.intermediateSize)

        let outer = PhaseTimer.enter(.attention)
        defer { PhaseTimer.leave(outer) }
        RMSNorm.forward(out: ws.ln.ptr, rstd: a.rstd1.ptr, inp: x, weight: inputNorm.weight.data,
                        rows: rows, dim: hid, eps: c.rmsNormEps)
        q.forward(ws.ln.ptr, a.q.ptr, rows: rows, training: training)
        k.forward(ws.ln.ptr, a.k.ptr, rows: rows, training: training)
        v.forward(ws.ln.ptr, a.v.ptr, rows: rows, training: training)
        rope.forward(a.q.ptr, batch: batch, seq: seq, heads: c.numHeads, startPos: past)
        rope.forward(a.k.ptr, batch: batch, seq: seq, heads: c.numKVHeads, startPos: past)

        var keys = UnsafePointer(a.k.ptr), values = UnsafePointer(a.v.ptr)
        if let cache {
            for b in 0..<batch {
                let dst = (b * cache.maxTokens + past) * kvDim, src = b * seq * kvDim
                (cache.keys + dst).update(from: a.k.ptr + src, count: seq * kvDim)
                (cache.values + dst).update(from: a.v.ptr + src, count: seq * kvDim)
            }
            keys = UnsafePointer(cache.keys); values = UnsafePointer(cache.values)
        } else {
            shape.kvBatchStride = seq * kvDim
        }
        Attention.forward(out: attnOut, probs: probs, q: a.q.ptr, k: keys, v: values, shape: shape, saveProbs: false)

        o.forward(attnOut, ws.proj.ptr, rows: rows, training: training)
        add(a.res2.ptr, x, ws.proj.ptr, rows * hid)
        _ = PhaseTimer.enter(.mlp)
        RMSNorm.forward(out: ws.ln.ptr, rstd: a.rstd2.ptr, inp: a.res2.ptr, weight: postAttentionNorm.weight.data,
                        rows: rows, dim: hid, eps: c.rmsNormEps)
        gate.forward(ws.ln.ptr, a.gate.ptr, rows: rows, training: training)
        up.forward(ws.ln.ptr, a.up.ptr, rows: rows, training: training)
        SwiGLU.forward(h: ws.h.ptr, gate: a.gate.ptr, up: a.up.ptr, count: rows * c.intermediateSize)
        down.forward(ws.h.ptr, ws.proj.ptr, rows: rows, training: training)
        add(out, a.res2.ptr, ws.proj.ptr, rows * hid)
    }

    /// Backward of a training `forward` (no cache). On entry `ws.dResidual` holds dL/d(out); on exit
    /// dL/dx. `x` is the same input the forward saw.
    func backward(x: UnsafePointer<Float>, batch: Int, seq: Int, rope: RoPE, ws: Workspace) {
        let c = config, a = acts, rows = batch * seq, hid = c.hiddenSize
        let dRes = ws.dResidual.ptr
        let outer = PhaseTimer.enter(.mlp)
        defer { PhaseTimer.leave(outer) }
        // The Linears saved ws.h / ws.ln as their inputs; refill them (bit for bit) before each backward
        // that may read its input (a requested dW or an adapter).
        // MLP: out = res2 + down(silu(gate(ln2))·up(ln2))
        if down.backwardNeedsInput {
            SwiGLU.forward(h: ws.h.ptr, gate: a.gate.ptr, up: a.up.ptr, count: rows * c.intermediateSize)
        }
        down.backward(dRes, ws.dH.ptr)
        SwiGLU.backward(dgate: ws.dH.ptr, dup: ws.dUp.ptr, dh: ws.dH.ptr, gate: a.gate.ptr, up: a.up.ptr,
                        count: rows * c.intermediateSize)
        if gate.backwardNeedsInput || up.backwardNeedsInput {
            RMSNorm.recompute(out: ws.ln.ptr, inp: a.res2.ptr, weight: postAttentionNorm.weight.data, rstd: a.rstd2.ptr,
                              rows: rows, dim: hid)
        }
        gate.backward(ws.dH.ptr, ws.dLn.ptr)
        up.backward(ws.dUp.ptr, ws.dLn.ptr, accumulate: true)
        RMSNorm.backward(dinp: dRes, dweight: postAttentionNorm.grad?.data, dout: ws.dLn.ptr, inp: a.res2.ptr,
                         weight: postAttentionNorm.weight.data, rstd: a.rstd2.ptr, rows: rows, dim: hid)
        _ = PhaseTimer.enter(.attention)
        // Attention: res2 = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1)))
        o.backward(dRes, ws.dAttnOut.ptr)
        let shape = AttentionShape(batch: batch, seqQ: seq, heads: c.numHeads, kvHeads: c.numKVHeads, headDim: c.headDim)
        Attention.backward(dq: ws.dq.ptr, dk: ws.dk.ptr, dv: ws.dv.ptr, scratch: ws.dScores.ptr, dout: ws.dAttnOut.ptr,
                           q: a.q.ptr, k: a.k.ptr, v: a.v.ptr, shape: shape)
        rope.backward(ws.dq.ptr, batch: batch, seq: seq, heads: c.numHeads)
        rope.backward(ws.dk.ptr, batch: batch, seq: seq, heads: c.numKVHeads)
        if q.backwardNeedsInput || k.backwardNeedsInput || v.backwardNeedsInput {
            RMSNorm.recompute(out: ws.ln.ptr, inp: x, weight: inputNorm.weight.data, rstd: a.rstd1.ptr, rows: rows, dim: hid)
        }
        q.backward(ws.dq.ptr, ws.dLn.ptr)
        k.backward(ws.dk.ptr, ws.dLn.ptr, accumulate: true)
        v.backward(ws.dv.ptr, ws.dLn.ptr, accumulate: true)
        RMSNorm.backward(dinp: dRes, dweight: inputNorm.grad?.data, dout: ws.dLn.ptr, inp: x,
                         weight: inputNorm.weight.data, rstd: a.rstd1.ptr, rows: rows, dim: hid)
    }
}

/// out[i] = a[i] + b[i] (out may alias a).
@inline(__always) func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    let vecEnd = n & ~15
    var i = 0
    while i < vecEnd { store16(load16(a + i) + load16(b + i), out + i); i += 16 }
    while i < n { out[i] = a[i] + b[i]; i += 1 }
}
