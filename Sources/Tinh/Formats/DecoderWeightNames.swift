/// The Hugging Face tensor names and shapes a decoder of any family needs, so every loader
/// (GGUF, safetensors) can check what it produced against the config with the same messages.
public enum DecoderWeightNames {
    /// Every expected tensor name with its [out, in] (or [n]) shape, as the family's spec lays them out.
    public static func expectedShapes(_ c: DecoderConfig) -> [String: [Int]] {
        let q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim, spec = c.spec
        let hid = c.hiddenSize, inter = c.intermediateSize
        var s: [String: [Int]] = [
            "model.embed_tokens.weight": [c.vocabSize, hid],
            "model.norm.weight": [hid],
        ]
        if !c.tieWordEmbeddings { s["lm_head.weight"] = [c.vocabSize, hid] }
        for i in 0 ..< c.numLayers {
            let p = DecoderConfig.blockPrefix(i)
            func projection(_ name: String, _ out: Int, _ inp: Int, bias: Bool) {
                s[p + name + ".weight"] = [out, inp]
                if bias { s[p + name + ".bias"] = [out] }
            }
            s[p + "input_layernorm.weight"] = [hid]
            s[p + "post_attention_layernorm.weight"] = [hid]
            if spec.outputNorms {
                s[p + "pre_feedforward_layernorm.weight"] = [hid]
                s[p + "post_feedforward_layernorm.weight"] = [hid]
            }
            if spec.qkNorm {
                s[p + "self_attn.q_norm.weight"] = [c.headDim]
                s[p + "self_attn.k_norm.weight"] = [c.headDim]
            }
            switch spec.projections {
            case .separate:
                projection("self_attn.q_proj", q, hid, bias: spec.qkvBias)
                projection("self_attn.k_proj", kv, hid, bias: spec.qkvBias)
                projection("self_attn.v_proj", kv, hid, bias: spec.qkvBias)
                projection("mlp.gate_proj", inter, hid, bias: spec.mlpBias)
                projection("mlp.up_proj", inter, hid, bias: spec.mlpBias)
            case .fused:
                projection("self_attn.qkv_proj", c.qkvRows, hid, bias: spec.qkvBias)
                projection("mlp.gate_up_proj", 2 * inter, hid, bias: spec.mlpBias)
            }
            projection("self_attn.o_proj", hid, q, bias: spec.outputBias)
            projection("mlp.down_proj", hid, inter, bias: spec.mlpBias)
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
        // A layer has at least 6 tensors (Phi-3: 2 norms, 4 projections).
        guard c.numLayers <= tensorCount / 6 else {
            throw TinhError.badFile(path: source, reason: "the config declares \(c.numLayers) layers, but there are only \(tensorCount) tensors")
        }
    }
}
