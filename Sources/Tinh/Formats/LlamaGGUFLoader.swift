/// Builds a Llama-family model (config + Hugging Face-named Float32 weights) from a GGUF file.
/// Architectures: "llama" (attn_q/attn_k rows un-permuted) and "qwen2" (q/k/v biases, no permutation,
/// since llama.cpp converts Qwen2 without permuting).
public enum LlamaGGUFLoader {
    public static func load(path: String) throws -> (LlamaConfig, [String: Tensor]) {
        try load(GGUFFile(path: path))
    }

    public static func load(_ g: GGUFFile) throws -> (LlamaConfig, [String: Tensor]) {
        let config = try config(g)
        var weights: [String: Tensor] = [:]
        for info in g.tensors {
            guard let hf = hfName(info.name) else {
                throw TinhError.unsupported("tensor '\(info.name)' in \(g.path) has no Llama equivalent Tinh knows")
            }
            weights[hf] = try g.tensor(info.name)
        }
        // Shapes first, so a bad file gets a shape error rather than a permutation error.
        try LlamaWeightNames.validate(weights, config: config, source: g.path)
        if g.architecture == "llama" {
            for i in 0 ..< config.numLayers {
                for (proj, heads) in [("q_proj", config.numHeads), ("k_proj", config.numKVHeads)] {
                    for kind in ["weight", "bias"] {
                        let name = "\(LlamaConfig.blockPrefix(i))self_attn.\(proj).\(kind)"
                        if let t = weights[name] { weights[name] = try RopePermutation.unpermute(t, heads: heads) }
                    }
                }
            }
        }
        return (config, weights)
    }

    /// The model shape from `<arch>.*` metadata.
    public static func config(_ g: GGUFFile) throws -> LlamaConfig {
        guard let arch = g.architecture else {
            throw TinhError.badFile(path: g.path, reason: "no general.architecture in the metadata")
        }
        guard arch == "llama" || arch == "qwen2" else {
            throw TinhError.unsupported("GGUF architecture '\(arch)' in \(g.path) (Tinh loads llama and qwen2)")
        }
        func int(_ key: String) throws -> Int {
            guard let v = g.metadata["\(arch).\(key)"]?.int else {
                throw TinhError.badFile(path: g.path, reason: "metadata '\(arch).\(key)' is missing or not an integer")
            }
            return v
        }
        func float(_ key: String, default d: Float) throws -> Float {
            guard let v = g.metadata["\(arch).\(key)"] else { return d }
            guard let f = v.float else { throw TinhError.badFile(path: g.path, reason: "metadata '\(arch).\(key)' is not a number") }
            return f
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let kvHeads = g.metadata["\(arch).attention.head_count_kv"] == nil ? heads : try int("attention.head_count_kv")
        let headDim = g.metadata["\(arch).attention.key_length"] == nil ? nil : try int("attention.key_length")
        // Vocabulary: the tokenizer's token list, else <arch>.vocab_size, else the embedding's rows.
        let vocab = g.metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? g.metadata["\(arch).vocab_size"]?.int
            ?? g.info("token_embd.weight")?.shape.first ?? 0
        let hasBias = g.info("blk.0.attn_q.bias") != nil
        let c = LlamaConfig(
            vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numLayers: try int("block_count"), numHeads: heads, numKVHeads: kvHeads, headDim: headDim,
            ropeTheta: try float("rope.freq_base", default: 10000),
            rmsNormEps: try float("attention.layer_norm_rms_epsilon", default: 1e-5),
            maxPositions: g.metadata["\(arch).context_length"]?.int ?? 2048,
            tieWordEmbeddings: g.info("output.weight") == nil, attentionBias: hasBias)
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: g.path, reason: m)
        }
        return c
    }

    private static let blockParts: [String: String] = [
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj", "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    ]

    /// GGUF tensor name -> Hugging Face name, or nil for names outside the Llama layout.
    public static func hfName(_ gguf: String) -> String? {
        switch gguf {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = gguf.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              String(layer) == parts[1], let hf = blockParts[String(parts[2])],
              parts[3] == "weight" || parts[3] == "bias" else { return nil }
        return "\(LlamaConfig.blockPrefix(layer))\(hf).\(parts[3])"
    }
}
