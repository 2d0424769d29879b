/// `tiny[:seed]`: a small random Llama built in-process for tests and debugging
/// (2 layers, hidden 64, 4 heads / 2 KV heads, intermediate 128, vocab 512, tied head).
public enum TinyLlama {
    public static let config = DecoderConfig(vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2,
                                           numHeads: 4, numKVHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-5,
                                           maxPositions: 1024, tieWordEmbeddings: true)

    /// The seed in a "tiny" or "tiny:SEED" model spec (0 when omitted); nil when the spec names something else.
    public static func seed(fromSpec spec: String) throws -> UInt64? {
        if spec == "tiny" { return 0 }
        guard spec.hasPrefix("tiny:") else { return nil }
        guard let s = UInt64(spec.dropFirst(5)) else {
            throw TinhError.invalidInput("model 'tiny:SEED' needs a non-negative integer seed, got '\(spec)'")
        }
        return s
    }

    /// Random weights in Hugging Face names for any config and family spec: every matrix (and bias)
    /// normal(0, std) as HF's initializer_range, norm weights with an effective scale of 1 (0 for
    /// Gemma's 1 + w). The same seed gives the same weights; a Llama config draws exactly what it
    /// always drew, and a family's extra tensors are drawn after those (fused projections are the
    /// separate ones concatenated).
    public static func weights(config c: DecoderConfig, seed: UInt64, std: Float = 0.02) -> [String: Tensor] {
        var rng = SeededGenerator(seed: seed)
        var w: [String: Tensor] = [:]
        func normal(_ name: String, _ shape: [Int]) {
            let t = Tensor(shape: shape)
            rng.fillNormal(t.data, count: t.count, std: std)
            w[name] = t
        }
        func ones(_ name: String, _ dim: Int = c.hiddenSize) { let t = Tensor(shape: [dim]); t.fill(1 - c.spec.normShift); w[name] = t }
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim, spec = c.spec
        normal("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])
        for i in 0..<c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            ones(p + "input_layernorm.weight")
            ones(p + "post_attention_layernorm.weight")
            normal(p + "self_attn.q_proj.weight", [qDim, c.hiddenSize])
            normal(p + "self_attn.k_proj.weight", [kvDim, c.hiddenSize])
            normal(p + "self_attn.v_proj.weight", [kvDim, c.hiddenSize])
            if spec.qkvBias {
                normal(p + "self_attn.q_proj.bias", [qDim])
                normal(p + "self_attn.k_proj.bias", [kvDim])
                normal(p + "self_attn.v_proj.bias", [kvDim])
            }
            normal(p + "self_attn.o_proj.weight", [c.hiddenSize, qDim])
            normal(p + "mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize])
            normal(p + "mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize])
            normal(p + "mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize])
        }
        ones("model.norm.weight")
        if !c.tieWordEmbeddings { normal("lm_head.weight", [c.vocabSize, c.hiddenSize]) }
        for i in 0..<c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            if spec.outputNorms {
                // Gemma: post_attention_layernorm is the attention output's norm; the MLP's comes first.
                ones(p + "pre_feedforward_layernorm.weight")
                ones(p + "post_feedforward_layernorm.weight")
            }
            if spec.qkNorm { ones(p + "self_attn.q_norm.weight", c.headDim); ones(p + "self_attn.k_norm.weight", c.headDim) }
            if spec.outputBias { normal(p + "self_attn.o_proj.bias", [c.hiddenSize]) }
            if spec.mlpBias {
                for m in ["gate", "up"] { normal(p + "mlp.\(m)_proj.bias", [c.intermediateSize]) }
                normal(p + "mlp.down_proj.bias", [c.hiddenSize])
            }
            if spec.projections == .fused {
                for (fused, parts) in [("self_attn.qkv_proj", ["q", "k", "v"].map { "self_attn.\($0)_proj" }),
                                       ("mlp.gate_up_proj", ["mlp.gate_proj", "mlp.up_proj"])] {
                    for kind in ["weight", "bias"] {
                        let pieces = parts.compactMap { w.removeValue(forKey: p + $0 + "." + kind) }
                        guard !pieces.isEmpty else { continue }
                        let rows = pieces.reduce(0) { $0 + $1.shape[0] }
                        let t = Tensor(shape: kind == "weight" ? [rows, c.hiddenSize] : [rows])
                        var at = 0
                        for piece in pieces { (t.data + at).update(from: piece.data, count: piece.count); at += piece.count }
                        w[p + fused + "." + kind] = t
                    }
                }
            }
        }
        return w
    }

    /// The tiny model for `seed`.
    public static func model(seed: UInt64 = 0) throws -> DecoderModel {
        try DecoderModel(config: config, weights: weights(config: config, seed: seed))
    }
}
