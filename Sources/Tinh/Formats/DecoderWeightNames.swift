/// The Hugging Face tensor names and shapes a Llama-family model needs, so every loader
/// (GGUF, safetensors) can check what it produced against the config with the same messages.
public enum DecoderWeightNames {
    /// Every expected tensor name with its [out, in] (or [n]) shape.
    public static func expectedShapes(_ c: DecoderConfig) -> [String: [Int]] {
        let q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim
        var s: [String: [Int]] = [
            "model.embed_tokens.weight": [c.vocabSize, c.hiddenSize],
            "model.norm.weight": [c.hiddenSize],
        ]
        if !c.tieWordEmbeddings { s["lm_head.weight"] = [c.vocabSize, c.hiddenSize] }
        for i in 0 ..< c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            s[p + "input_layernorm.weight"] = [c.hiddenSize]
            s[p + "post_attention_layernorm.weight"] = [c.hiddenSize]
            s[p + "self_attn.q_proj.weight"] = [q, c.hiddenSize]
            s[p + "self_attn.k_proj.weight"] = [kv, c.hiddenSize]
            s[p + "self_attn.v_proj.weight"] = [kv, c.hiddenSize]
            s[p + "self_attn.o_proj.weight"] = [c.hiddenSize, q]
            s[p + "mlp.gate_proj.weight"] = [c.intermediateSize, c.hiddenSize]
            s[p + "mlp.up_proj.weight"] = [c.intermediateSize, c.hiddenSize]
            s[p + "mlp.down_proj.weight"] = [c.hiddenSize, c.intermediateSize]
            if c.attentionBias {
                s[p + "self_attn.q_proj.bias"] = [q]
                s[p + "self_attn.k_proj.bias"] = [kv]
                s[p + "self_attn.v_proj.bias"] = [kv]
            }
        }
        return s
    }

    /// Throws a clear error for a missing, unexpected or mis-shaped tensor (shapes compare exactly).
    public static func validate(_ weights: [String: Tensor], config: DecoderConfig, source: String) throws {
        try validate(shapes: weights.mapValues(\.shape), config: config, source: source)
    }

    /// The same check on shapes alone (a file's tensor table, before anything is decoded).
    public static func validate(shapes weights: [String: [Int]], config: DecoderConfig, source: String) throws {
        try checkPlausible(config, tensorCount: weights.count, source: source)
        let expected = expectedShapes(config)
        for name in expected.keys.sorted() {
            guard let shape = weights[name] else {
                throw TinhError.badFile(path: source, reason: "missing tensor '\(name)'")
            }
            let want = expected[name] ?? []
            guard shape == want else {
                throw TinhError.badFile(path: source, reason: "tensor '\(name)' has shape \(shape), the config needs \(want)")
            }
        }
        if let extra = weights.keys.sorted().first(where: { expected[$0] == nil }) {
            throw TinhError.badFile(path: source, reason: "unexpected tensor '\(extra)' for this config"
                + (extra == "lm_head.weight" ? " (the config says the head is tied to the embedding)" : ""))
        }
    }

    /// Guards `expectedShapes` against numbers from a lying file: no dimension beyond 2^31, no
    /// product that overflows, and no more layers than the tensors present could describe.
    static func checkPlausible(_ c: DecoderConfig, tensorCount: Int, source: String) throws {
        let limit = 1 << 31
        let dims = [c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKVHeads, c.headDim]
        guard dims.allSatisfy({ $0 > 0 && $0 <= limit }), c.numHeads * c.headDim <= limit else {
            throw TinhError.badFile(path: source, reason: "implausible model dimensions \(dims)")
        }
        guard c.numLayers <= tensorCount / 9 else {
            throw TinhError.badFile(path: source, reason: "the config declares \(c.numLayers) layers, but there are only \(tensorCount) tensors")
        }
    }
}
