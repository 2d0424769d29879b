/// Builds a Llama-family model (config + Hugging Face-named Float32 weights) from a GGUF file.
/// Architectures: "llama" (attn_q/attn_k rows un-permuted) and "qwen2" (q/k/v biases, no permutation,
/// since llama.cpp converts Qwen2 without permuting).
public enum GGUFModelLoader {
    public static func load(path: String) throws -> (DecoderConfig, [String: Tensor]) {
        try load(GGUFFile(path: path))
    }

    public static func load(_ g: GGUFFile) throws -> (DecoderConfig, [String: Tensor]) {
        let (config, weights, _) = try load(g, basePrecision: .f32)
        return (config, weights)
    }

    /// The model with its projection weights in `basePrecision` (`frozen`; empty for f32, where
    /// they are ordinary tensors in `weights`). Tensors are decoded and quantized one at a time,
    /// so a quantized base never holds the whole model in Float32; GGUF blocks the precision keeps
    /// as they are (Q8_0 for q8, Q4_0/Q4_1 for q4) are borrowed from the mapping, not copied
    /// (except attn_q/attn_k, whose rows are un-permuted into a copy).
    public static func load(_ g: GGUFFile, basePrecision: BasePrecision) throws
        -> (config: DecoderConfig, weights: [String: Tensor], frozen: [String: FrozenWeight]) {
        let config = try config(g)
        var names: [String: GGUFTensorInfo] = [:]
        for info in g.tensors where info.name != ropeFrequencyFactors {
            guard let hf = hfName(info.name) else {
                throw TinhError.unsupported("tensor '\(info.name)' in \(g.path) has no Llama equivalent Tinh knows")
            }
            names[hf] = info
        }
        // A tensor type Tinh cannot read is the first thing to say about a file; then shapes, so a
        // bad file gets a shape error rather than a permutation error.
        if let bad = g.tensors.first(where: { !$0.type.canDequantize }) {
            throw TinhError.unsupported("tensor '\(bad.name)' in \(g.path) has type \(bad.type); Tinh can dequantize "
                + GGMLType.dequantizable.map(\.name).joined(separator: ", "))
        }
        // Shapes first, so a bad file gets a shape error rather than a permutation error.
        try DecoderWeightNames.validate(shapes: names.mapValues(\.shape), config: config, source: g.path)
        var weights: [String: Tensor] = [:]
        var frozen: [String: FrozenWeight] = [:]
        // Tensors to quantize are decoded into these two reusable buffers: a fresh Float32 tensor
        // per weight would leave heap holes behind the small quantized results that glibc never
        // returns (+250 MB peak RSS on SmolLM2 with nf4).
        let staging = (decoded: GrowableBuffer(), unpermuted: GrowableBuffer())
        for (hf, info) in names.sorted(by: { $0.key < $1.key }) {
            let heads = permutedHeads(hf, config: config, architecture: g.architecture)
            if basePrecision != .f32, BasePrecision.appliesTo(hf) {
                frozen[hf] = try frozenWeight(g, info, hf, heads: heads, precision: basePrecision, staging: staging)
                continue
            }
            var t = try g.tensor(info.name)
            if let heads { t = try RopePermutation.unpermute(t, heads: heads) }
            weights[hf] = t
        }
        return (config, weights, frozen)
    }

    /// llama.cpp permuted the rows of attn_q/attn_k (weights and biases) of "llama" models for its
    /// RoPE: the head count to un-permute them with, or nil for every other tensor.
    static func permutedHeads(_ hf: String, config: DecoderConfig, architecture: String?) -> Int? {
        guard architecture == "llama" else { return nil }
        if hf.contains(".self_attn.q_proj.") { return config.numHeads }
        if hf.contains(".self_attn.k_proj.") { return config.numKVHeads }
        return nil
    }

    private static func frozenWeight(_ g: GGUFFile, _ info: GGUFTensorInfo, _ hf: String, heads: Int?, precision: BasePrecision,
                                     staging: (decoded: GrowableBuffer, unpermuted: GrowableBuffer)) throws -> FrozenWeight {
        let (out, inFeatures) = (info.shape[0], info.shape[1])
        if let format = FrozenWeights.keepsAsStored(info.type, precision: precision) {
            let (_, raw) = try g.rawData(info.name)
            guard let heads else {
                return try BlockQuantizedWeight(blocks: raw, format: format, out: out, in: inFeatures, borrowingFrom: g.file, name: hf)
            }
            let rows = try RopePermutation.unpermuteRows(raw, rows: out, heads: heads)
            return try rows.withUnsafeBytes {
                try BlockQuantizedWeight(blocks: $0, format: format, out: out, in: inFeatures, borrowingFrom: nil, name: hf)
            }
        }
        let n = out * inFeatures
        var values = staging.decoded.reserve(n)
        try g.dequantize(info.name, into: UnsafeMutableBufferPointer(start: values, count: n))
        if let heads {
            let moved = staging.unpermuted.reserve(n)
            try RopePermutation.unpermute(values, into: moved, rows: out, cols: inFeatures, heads: heads)
            values = moved
        }
        return try FrozenWeights.make(values, out: out, in: inFeatures, precision: precision, name: hf)
    }

    /// The model shape from `<arch>.*` metadata.
    public static func config(_ g: GGUFFile) throws -> DecoderConfig {
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
        let scaling = try ropeScaling(g, arch: arch, headDim: headDim ?? hidden / max(heads, 1))
        let c = DecoderConfig(
            vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numLayers: try int("block_count"), numHeads: heads, numKVHeads: kvHeads, headDim: headDim,
            ropeTheta: try float("rope.freq_base", default: 10000), ropeScaling: scaling,
            rmsNormEps: try float("attention.layer_norm_rms_epsilon", default: 1e-5),
            maxPositions: g.metadata["\(arch).context_length"]?.int ?? 2048,
            tieWordEmbeddings: g.info("output.weight") == nil, attentionBias: hasBias)
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: g.path, reason: m)
        }
        return c
    }

    /// The tensor in which llama.cpp's converter stores Llama 3.1's RoPE scaling, precomputed as
    /// one divisor per rotated pair.
    static let ropeFrequencyFactors = "rope_freqs.weight"

    /// RoPE scaling from `<arch>.rope.*` metadata and `rope_freqs.weight`; a kind Tinh does not
    /// implement (yarn, longrope, partial rotation) is refused with the key that names it.
    static func ropeScaling(_ g: GGUFFile, arch: String, headDim: Int) throws -> RoPEScaling? {
        if let dims = g.metadata["\(arch).rope.dimension_count"]?.int, dims != headDim {
            throw TinhError.unsupported("\(arch).rope.dimension_count = \(dims) in \(g.path): RoPE on \(dims) of \(headDim) head dimensions is not implemented")
        }
        if let info = g.info(ropeFrequencyFactors) {
            guard info.shape.reduce(1, *) == headDim / 2 else {
                throw TinhError.badFile(path: g.path, reason: "\(ropeFrequencyFactors) has shape \(info.shape), expected [\(headDim / 2)]")
            }
            return .divisors(try g.tensor(ropeFrequencyFactors).array)
        }
        let type = g.metadata["\(arch).rope.scaling.type"]?.string ?? "none"
        switch type {
        case "none":
            return nil
        case "linear":
            guard let factor = g.metadata["\(arch).rope.scaling.factor"]?.float else {
                throw TinhError.badFile(path: g.path, reason: "\(arch).rope.scaling.type is linear but \(arch).rope.scaling.factor is missing")
            }
            return factor == 1 ? nil : .linear(factor: factor)
        default:
            throw TinhError.unsupported("\(arch).rope.scaling.type = '\(type)' in \(g.path): Tinh implements RoPE scaling none, linear and llama3 (rope_freqs)")
        }
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
        return "\(DecoderConfig.blockPrefix(layer))\(hf).\(parts[3])"
    }
}
