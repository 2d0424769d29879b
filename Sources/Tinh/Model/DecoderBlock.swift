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

/// One decoder block of any family, as its `ArchitectureSpec` describes it:
///
///     h   = x + N_ao(o(attn(rope(N_q(q(N_a(x)))), rope(N_k(k(N_a(x)))), v(N_a(x)))))
///     out = h + N_mo(down(act(gate(N_m(h))) · up(N_m(h))))
///
/// N_a and N_m always exist (Llama's input_layernorm and post_attention_layernorm); the output
/// norms N_ao, N_mo (Gemma) and the per-head q/k norms N_q, N_k (Qwen3, Gemma 3) only when the spec
/// has them. q/k/v and gate/up are separate Linears or one fused Linear each (Phi-3).
public final class DecoderBlock {
    public let index: Int
    /// Before attention (input_layernorm).
    public let inputNorm: NormWeight
    /// Before the MLP: post_attention_layernorm in Llama, pre_feedforward_layernorm in Gemma.
    public let mlpNorm: NormWeight
    /// On the attention output before the residual add (Gemma's post_attention_layernorm).
    public let attentionOutputNorm: NormWeight?
    /// On the MLP output before the residual add (Gemma's post_feedforward_layernorm).
    public let mlpOutputNorm: NormWeight?
    /// Over each head of q and of k (self_attn.q_norm, self_attn.k_norm).
    public let qNorm: NormWeight?, kNorm: NormWeight?
    /// [q, k, v], or [qkv] when fused.
    public let attentionInputs: [Linear]
    public let o: Linear
    /// [gate, up], or [gate_up] when fused.
    public let mlpInputs: [Linear]
    public let down: Linear
    let config: DecoderConfig
    let attention: ArchitectureSpec.LayerAttention
    var acts: BlockActivations

    init(index i: Int, config c: DecoderConfig, table: WeightTable, memory: ActivationMemory? = nil) throws {
        let p = DecoderConfig.blockPrefix(i), spec = c.spec
        let hid = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        // The spec says which projections have biases (DecoderWeightNames expects exactly those).
        func linear(_ sub: String, _ out: Int, _ inp: Int, bias: Bool) throws -> Linear {
            let name = p + sub
            let b = bias ? try table.require(name + ".bias", [out]) : nil
            return Linear(name: name, frozen: try table.requireFrozen(name + ".weight", [out, inp]), bias: b, memory: memory)
        }
        func norm(_ sub: String, _ dim: Int = c.hiddenSize) throws -> NormWeight {
            NormWeight(name: p + sub + ".weight", weight: try table.require(p + sub + ".weight", [dim]))
        }
        index = i
        config = c
        attention = spec.attention(layer: i)
        acts = BlockActivations(memory: memory)
        inputNorm = try norm("input_layernorm")
        mlpNorm = try norm(spec.outputNorms ? "pre_feedforward_layernorm" : "post_attention_layernorm")
        attentionOutputNorm = spec.outputNorms ? try norm("post_attention_layernorm") : nil
        mlpOutputNorm = spec.outputNorms ? try norm("post_feedforward_layernorm") : nil
        qNorm = spec.qkNorm ? try norm("self_attn.q_norm", c.headDim) : nil
        kNorm = spec.qkNorm ? try norm("self_attn.k_norm", c.headDim) : nil
        switch spec.projections {
        case .separate:
            attentionInputs = [try linear("self_attn.q_proj", qDim, hid, bias: spec.qkvBias),
                               try linear("self_attn.k_proj", kvDim, hid, bias: spec.qkvBias),
                               try linear("self_attn.v_proj", kvDim, hid, bias: spec.qkvBias)]
            mlpInputs = [try linear("mlp.gate_proj", c.intermediateSize, hid, bias: spec.mlpBias),
                         try linear("mlp.up_proj", c.intermediateSize, hid, bias: spec.mlpBias)]
        case .fused:
            attentionInputs = [try linear("self_attn.qkv_proj", c.qkvRows, hid, bias: spec.qkvBias)]
            mlpInputs = [try linear("mlp.gate_up_proj", 2 * c.intermediateSize, hid, bias: spec.mlpBias)]
        }
        o = try linear("self_attn.o_proj", hid, qDim, bias: spec.outputBias)
        down = try linear("mlp.down_proj", hid, c.intermediateSize, bias: spec.mlpBias)
        linears = attentionInputs + [o] + mlpInputs + [down]
        norms = [inputNorm, qNorm, kNorm, attentionOutputNorm, mlpNorm, mlpOutputNorm].compactMap { $0 }
    }

    /// Projections in Hugging Face order.
    public let linears: [Linear]

    /// Every norm weight of the block, in Hugging Face order.
    public let norms: [NormWeight]

    /// Where attention and MLP time is charged (the model sets it: `DecoderModel.phaseTimer`).
    var phases: PhaseTimer?

    /// The projection whose module name ends in `module` ("q_proj", "qkv_proj", …), if the block has one.
    public func projection(_ module: String) -> Linear? { linears.first { $0.name.hasSuffix("." + module) } }

    /// Whether anything in this block trains: an adapter, a weight or bias gradient, a norm gradient.
    var hasTrainablePart: Bool {
        linears.contains { $0.adapter != nil || $0.weightGrad != nil || $0.biasGrad != nil } || norms.contains { $0.grad != nil }
    }

    private var fusedAttention: Bool { attentionInputs.count == 1 }
    private var fusedMLP: Bool { mlpInputs.count == 1 }

    func attentionShape(batch: Int, seq: Int, past: Int = 0, kvBatchStride: Int? = nil,
                        segments: AttentionSegments? = nil) -> AttentionShape {
        let c = config
        return AttentionShape(batch: batch, seqQ: seq, past: past, heads: c.numHeads, kvHeads: c.numKVHeads, headDim: c.headDim,
                              kvBatchStride: kvBatchStride, window: attention.window, scale: c.spec.attentionScale,
                              softcap: c.spec.attentionSoftcap, segments: segments)
    }

    /// out = block(x) for [batch, seq] positions starting at `cache?.past ?? 0`. With `training`, saves
    /// what `backward` needs; with a cache, appends this call's keys/values to it and attends over it.
    /// With `segments` (no cache), each row packs examples: attention stays inside each and RoPE
    /// positions restart at each.
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch: Int, seq: Int,
                 rope: RoPE, ws: Workspace, cache: CacheSlot?, training: Bool, segments: AttentionSegments? = nil) {
        precondition(segments == nil || cache == nil, "packed examples go without a KV cache")
        let c = config, a = acts, rows = batch * seq, shift = c.spec.normShift
        let hid = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim, inter = c.intermediateSize
        let past = cache?.past ?? 0
        var shape = attentionShape(batch: batch, seq: seq, past: past, kvBatchStride: cache.map { $0.maxTokens * kvDim },
                                   segments: segments)
        // Without a cache attention runs fused (FlashAttention), whose backward reads its output and
        // log-sum-exp: training keeps both. With a cache (decoding), the blocked GEMM kernel.
        let flash = cache == nil, keepAttnOut = training, workers = BLAS.threads
        a.reserve(rows: rows, keepAttnOut: keepAttnOut, flash: flash, config: c)
        let probs = ws.probs.reserve(flash ? workers * FlashAttention.scratchCount(shape) : shape.scratchCount)
        let attnOut = keepAttnOut ? a.attnOut.ptr : ws.attnOut.reserve(rows * qDim)
        ws.proj.reserve(rows * hid); ws.ln.reserve(rows * hid); ws.h.reserve(rows * inter)
        if fusedAttention || fusedMLP { ws.fused.reserve(rows * max(c.qkvRows, 2 * inter)) }

        let outer = phases.enter(.attention)
        defer { phases.leave(outer) }
        RMSNorm.forward(out: ws.ln.ptr, rstd: a.rstd1.ptr, inp: x, weight: inputNorm.weight.data,
                        rows: rows, dim: hid, eps: c.rmsNormEps, shift: shift)
        // Projections land in q/k/v directly, or in qPre/kPre when a per-head norm follows.
        let qOut = qNorm == nil ? a.q.ptr : a.qPre.ptr, kOut = kNorm == nil ? a.k.ptr : a.kPre.ptr
        if fusedAttention {
            attentionInputs[0].forward(ws.ln.ptr, ws.fused.ptr, rows: rows, training: training)
            Columns.split(ws.fused.ptr, rows: rows, (qOut, qDim), (kOut, kvDim), (a.v.ptr, kvDim))
        } else {
            attentionInputs[0].forward(ws.ln.ptr, qOut, rows: rows, training: training)
            attentionInputs[1].forward(ws.ln.ptr, kOut, rows: rows, training: training)
            attentionInputs[2].forward(ws.ln.ptr, a.v.ptr, rows: rows, training: training)
        }
        if let qNorm, let kNorm {
            RMSNorm.forward(out: a.q.ptr, rstd: a.qRstd.ptr, inp: a.qPre.ptr, weight: qNorm.weight.data,
                            rows: rows * c.numHeads, dim: c.headDim, eps: c.rmsNormEps, shift: shift)
            RMSNorm.forward(out: a.k.ptr, rstd: a.kRstd.ptr, inp: a.kPre.ptr, weight: kNorm.weight.data,
                            rows: rows * c.numKVHeads, dim: c.headDim, eps: c.rmsNormEps, shift: shift)
        }
        if let segments {
            rope.forward(a.q.ptr, batch: batch, seq: seq, heads: c.numHeads, segments: segments)
            rope.forward(a.k.ptr, batch: batch, seq: seq, heads: c.numKVHeads, segments: segments)
        } else {
            rope.forward(a.q.ptr, batch: batch, seq: seq, heads: c.numHeads, startPos: past)
            rope.forward(a.k.ptr, batch: batch, seq: seq, heads: c.numKVHeads, startPos: past)
        }

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
        if flash {
            FlashAttention.forward(out: attnOut, lse: a.attnLse.ptr, scratch: probs, q: a.q.ptr, k: keys, v: values, shape: shape,
                                   threads: workers)
        } else {
            Attention.forward(out: attnOut, probs: probs, q: a.q.ptr, k: keys, v: values, shape: shape, saveProbs: false)
        }

        if let norm = attentionOutputNorm {
            o.forward(attnOut, a.attnProj.ptr, rows: rows, training: training)
            RMSNorm.forward(out: ws.proj.ptr, rstd: a.rstdAttnProj.ptr, inp: a.attnProj.ptr, weight: norm.weight.data,
                            rows: rows, dim: hid, eps: c.rmsNormEps, shift: shift)
        } else {
            o.forward(attnOut, ws.proj.ptr, rows: rows, training: training)
        }
        add(a.res2.ptr, x, ws.proj.ptr, rows * hid)
        _ = phases.enter(.mlp)
        RMSNorm.forward(out: ws.ln.ptr, rstd: a.rstd2.ptr, inp: a.res2.ptr, weight: mlpNorm.weight.data,
                        rows: rows, dim: hid, eps: c.rmsNormEps, shift: shift)
        if fusedMLP {
            mlpInputs[0].forward(ws.ln.ptr, ws.fused.ptr, rows: rows, training: training)
            Columns.split(ws.fused.ptr, rows: rows, (a.gate.ptr, inter), (a.up.ptr, inter))
        } else {
            mlpInputs[0].forward(ws.ln.ptr, a.gate.ptr, rows: rows, training: training)
            mlpInputs[1].forward(ws.ln.ptr, a.up.ptr, rows: rows, training: training)
        }
        gatedActivation(into: ws.h.ptr, count: rows * inter)
        if let norm = mlpOutputNorm {
            down.forward(ws.h.ptr, a.mlpProj.ptr, rows: rows, training: training)
            RMSNorm.forward(out: ws.proj.ptr, rstd: a.rstdMLPProj.ptr, inp: a.mlpProj.ptr, weight: norm.weight.data,
                            rows: rows, dim: hid, eps: c.rmsNormEps, shift: shift)
        } else {
            down.forward(ws.h.ptr, ws.proj.ptr, rows: rows, training: training)
        }
        add(out, a.res2.ptr, ws.proj.ptr, rows * hid)
    }

    /// h = act(gate)·up from the saved gate and up; forward writes it, and backward recomputes it
    /// (the same kernel on the same values, so bit for bit) when down_proj's backward reads its input.
    private func gatedActivation(into h: UnsafeMutablePointer<Float>, count n: Int) {
        switch config.spec.activation {
        case .silu: SwiGLU.forward(h: h, gate: acts.gate.ptr, up: acts.up.ptr, count: n)
        case .geluTanh: GeGLU.forward(h: h, gate: acts.gate.ptr, up: acts.up.ptr, count: n)
        }
    }

    /// The output of a norm whose input and 1/rms were saved, recomputed into `ws.ln` (bit for bit
    /// what forward computed): the input a Linear's backward reads, handed to it explicitly.
    private func normOutput(_ norm: NormWeight, input: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int,
                            ws: Workspace) -> UnsafePointer<Float> {
        RMSNorm.recompute(out: ws.ln.ptr, inp: input, weight: norm.weight.data, rstd: rstd, rows: rows,
                          dim: config.hiddenSize, shift: config.spec.normShift)
        return UnsafePointer(ws.ln.ptr)
    }

    /// The gradient of a projection's output from the residual gradient: through the output norm
    /// (Gemma) into `ws.dProj`, or the residual gradient itself when the family has none.
    private func throughOutputNorm(_ norm: NormWeight?, input: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int,
                                   ws: Workspace) -> UnsafePointer<Float> {
        guard let norm else { return UnsafePointer(ws.dResidual.ptr) }
        let hid = config.hiddenSize
        ws.dProj.ptr.update(repeating: 0, count: rows * hid)
        RMSNorm.backward(dinp: ws.dProj.ptr, dweight: norm.grad?.data, dout: ws.dResidual.ptr, inp: input, weight: norm.weight.data,
                         rstd: rstd, rows: rows, dim: hid, shift: config.spec.normShift)
        return UnsafePointer(ws.dProj.ptr)
    }

    /// Backward of a training `forward` (no cache). On entry `ws.dResidual` holds dL/d(out); on exit
    /// dL/dx. `x` is the same input the forward saw.
    func backward(x: UnsafePointer<Float>, batch: Int, seq: Int, rope: RoPE, ws: Workspace, segments: AttentionSegments? = nil) {
        let c = config, a = acts, rows = batch * seq, hid = c.hiddenSize, shift = c.spec.normShift
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim, inter = c.intermediateSize
        let dRes = ws.dResidual.ptr
        let outer = phases.enter(.mlp)
        defer { phases.leave(outer) }
        // MLP: out = res2 + N_mo(down(act(gate(ln2))·up(ln2)))
        let dDown = throughOutputNorm(mlpOutputNorm, input: a.mlpProj.ptr, rstd: a.rstdMLPProj.ptr, rows: rows, ws: ws)
        if down.backwardNeedsInput { gatedActivation(into: ws.h.ptr, count: rows * inter) }
        down.backward(dDown, ws.dH.ptr, input: down.backwardNeedsInput ? UnsafePointer(ws.h.ptr) : nil, rows: rows)
        switch c.spec.activation {
        case .silu:
            SwiGLU.backward(dgate: ws.dH.ptr, dup: ws.dUp.ptr, dh: ws.dH.ptr, gate: a.gate.ptr, up: a.up.ptr, count: rows * inter)
        case .geluTanh:
            GeGLU.backward(dgate: ws.dH.ptr, dup: ws.dUp.ptr, dh: ws.dH.ptr, gate: a.gate.ptr, up: a.up.ptr, count: rows * inter)
        }
        let ln2 = mlpInputs.contains { $0.backwardNeedsInput }
            ? normOutput(mlpNorm, input: a.res2.ptr, rstd: a.rstd2.ptr, rows: rows, ws: ws) : nil
        if fusedMLP {
            Columns.join(ws.fused.ptr, rows: rows, (ws.dH.ptr, inter), (ws.dUp.ptr, inter))
            mlpInputs[0].backward(ws.fused.ptr, ws.dLn.ptr, input: ln2, rows: rows)
        } else {
            mlpInputs[0].backward(ws.dH.ptr, ws.dLn.ptr, input: ln2, rows: rows)
            mlpInputs[1].backward(ws.dUp.ptr, ws.dLn.ptr, input: ln2, rows: rows, accumulate: true)
        }
        RMSNorm.backward(dinp: dRes, dweight: mlpNorm.grad?.data, dout: ws.dLn.ptr, inp: a.res2.ptr,
                         weight: mlpNorm.weight.data, rstd: a.rstd2.ptr, rows: rows, dim: hid, shift: shift)
        _ = phases.enter(.attention)
        // Attention: res2 = x + N_ao(o(attn(rope(N_q(q(ln1))), rope(N_k(k(ln1))), v(ln1))))
        let dO = throughOutputNorm(attentionOutputNorm, input: a.attnProj.ptr, rstd: a.rstdAttnProj.ptr, rows: rows, ws: ws)
        o.backward(dO, ws.dAttnOut.ptr, input: o.backwardNeedsInput ? UnsafePointer(a.attnOut.ptr) : nil, rows: rows)
        // As many workers as the scratch that reserveBackward sized holds (BLAS.threads then).
        let flashShape = attentionShape(batch: batch, seq: seq, segments: segments)
        let workers = max(1, min(BLAS.threads, ws.dScores.capacity / FlashAttention.scratchCount(flashShape)))
        FlashAttention.backward(dq: ws.dq.ptr, dk: ws.dk.ptr, dv: ws.dv.ptr, scratch: ws.dScores.ptr, dout: ws.dAttnOut.ptr,
                                out: a.attnOut.ptr, lse: a.attnLse.ptr, q: a.q.ptr, k: a.k.ptr, v: a.v.ptr,
                                shape: flashShape, threads: workers)
        if let segments {
            rope.backward(ws.dq.ptr, batch: batch, seq: seq, heads: c.numHeads, segments: segments)
            rope.backward(ws.dk.ptr, batch: batch, seq: seq, heads: c.numKVHeads, segments: segments)
        } else {
            rope.backward(ws.dq.ptr, batch: batch, seq: seq, heads: c.numHeads)
            rope.backward(ws.dk.ptr, batch: batch, seq: seq, heads: c.numKVHeads)
        }
        var (dq, dk) = (ws.dq.ptr, ws.dk.ptr)
        if let qNorm, let kNorm {
            ws.dqPre.ptr.update(repeating: 0, count: rows * qDim)
            ws.dkPre.ptr.update(repeating: 0, count: rows * kvDim)
            RMSNorm.backward(dinp: ws.dqPre.ptr, dweight: qNorm.grad?.data, dout: dq, inp: a.qPre.ptr, weight: qNorm.weight.data,
                             rstd: a.qRstd.ptr, rows: rows * c.numHeads, dim: c.headDim, shift: shift)
            RMSNorm.backward(dinp: ws.dkPre.ptr, dweight: kNorm.grad?.data, dout: dk, inp: a.kPre.ptr, weight: kNorm.weight.data,
                             rstd: a.kRstd.ptr, rows: rows * c.numKVHeads, dim: c.headDim, shift: shift)
            (dq, dk) = (ws.dqPre.ptr, ws.dkPre.ptr)
        }
        let ln1 = attentionInputs.contains { $0.backwardNeedsInput }
            ? normOutput(inputNorm, input: x, rstd: a.rstd1.ptr, rows: rows, ws: ws) : nil
        if fusedAttention {
            Columns.join(ws.fused.ptr, rows: rows, (dq, qDim), (dk, kvDim), (ws.dv.ptr, kvDim))
            attentionInputs[0].backward(ws.fused.ptr, ws.dLn.ptr, input: ln1, rows: rows)
        } else {
            attentionInputs[0].backward(dq, ws.dLn.ptr, input: ln1, rows: rows)
            attentionInputs[1].backward(dk, ws.dLn.ptr, input: ln1, rows: rows, accumulate: true)
            attentionInputs[2].backward(ws.dv.ptr, ws.dLn.ptr, input: ln1, rows: rows, accumulate: true)
        }
        RMSNorm.backward(dinp: dRes, dweight: inputNorm.grad?.data, dout: ws.dLn.ptr, inp: x,
                         weight: inputNorm.weight.data, rstd: a.rstd1.ptr, rows: rows, dim: hid, shift: shift)
    }
}

/// out[i] = a[i] + b[i] (out may alias a).
@inline(__always) func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    let vecEnd = n & ~15
    var i = 0
    while i < vecEnd { store16(load16(a + i) + load16(b + i), out + i); i += 16 }
    while i < n { out[i] = a[i] + b[i]; i += 1 }
}
