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

    /// Random weights in Hugging Face names for any config: every matrix (and bias) normal(0, std)
    /// as HF's initializer_range, norm weights 1. The same seed gives the same weights.
    public static func weights(config c: DecoderConfig, seed: UInt64, std: Float = 0.02) -> [String: Tensor] {
        var rng = SeededGenerator(seed: seed)
        var w: [String: Tensor] = [:]
        func normal(_ name: String, _ shape: [Int]) {
            let t = Tensor(shape: shape)
            rng.fillNormal(t.data, count: t.count, std: std)
            w[name] = t
        }
        func ones(_ name: String) { let t = Tensor(shape: [c.hiddenSize]); t.fill(1); w[name] = t }
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        normal("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])
        for i in 0..<c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            ones(p + "input_layernorm.weight")
            ones(p + "post_attention_layernorm.weight")
            normal(p + "self_attn.q_proj.weight", [qDim, c.hiddenSize])
            normal(p + "self_attn.k_proj.weight", [kvDim, c.hiddenSize])
            normal(p + "self_attn.v_proj.weight", [kvDim, c.hiddenSize])
            if c.attentionBias {
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
        return w
    }

    /// The tiny model for `seed`.
    public static func model(seed: UInt64 = 0) throws -> DecoderModel {
        try DecoderModel(config: config, weights: weights(config: config, seed: seed))
    }
}
