/// Builds a decoder (config + Hugging Face-named Float32 weights) from a GGUF file written by
/// llama.cpp's converter. Architectures: "llama" (Llama and Mistral; attn_q/attn_k rows
/// un-permuted), "qwen2", "qwen3", "gemma2", "gemma3" and "phi3" (converted without permuting).
/// Gemma's norm weights are stored as 1 + w; they are turned back into Hugging Face's w.
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
            guard let hf = hfName(info.name, family: config.spec.family) else {
                throw TinhError.unsupported("tensor '\(info.name)' in \(g.path) has no \(g.architecture ?? "") equivalent Tinh knows")
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
            if config.spec.normWeighting == .onePlusWeight, hf.hasSuffix("norm.weight") {
                // Exact: 1 + w was rounded once, and subtracting 1 again (Sterbenz) loses nothing for
                // stored values in [0.5, 2]; the kernels then compute 1 + w, the stored value.
                for i in 0..<t.count { t.data[i] -= 1 }
            }
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

    /// GGUF architecture → family. Mistral converts as "llama" (its sliding window, if any, in
    /// `llama.attention.sliding_window`).
    static let families: [String: ArchitectureSpec.Family] = [
        "llama": .llama, "qwen2": .qwen2, "qwen3": .qwen3, "gemma2": .gemma2, "gemma3": .gemma3, "phi3": .phi3,
    ]

    /// The model shape from `<arch>.*` metadata, and the family's spec.
    public static func config(_ g: GGUFFile) throws -> DecoderConfig {
        guard let arch = g.architecture else {
            throw TinhError.badFile(path: g.path, reason: "no general.architecture in the metadata")
        }
        guard let family = families[arch] else {
            throw TinhError.unsupported("GGUF architecture '\(arch)' in \(g.path) (Tinh loads \(families.keys.sorted().joined(separator: ", ")))")
        }
        let meta = GGUFMetadata(file: g, arch: arch)
        let hidden = try meta.int("embedding_length")
        let heads = try meta.int("attention.head_count")
        let layers = try meta.int("block_count")
        let kvHeads = try meta.optionalInt("attention.head_count_kv") ?? heads
        let headDim = try meta.optionalInt("attention.key_length")
        let headSize = headDim ?? hidden / max(heads, 1)
        // Vocabulary: the tokenizer's token list, else <arch>.vocab_size, else the embedding's rows.
        let vocab = g.metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? g.metadata["\(arch).vocab_size"]?.int
            ?? g.info("token_embd.weight")?.shape.first ?? 0
        let scaling = try ropeScaling(g, arch: arch, headDim: headSize)
        var spec = ArchitectureSpec(family: family)
        spec.qkvBias = g.info("blk.0.attn_q.bias") != nil || g.info("blk.0.attn_qkv.bias") != nil
        spec.outputBias = g.info("blk.0.attn_output.bias") != nil
        spec.mlpBias = g.info("blk.0.ffn_down.bias") != nil
        spec.qkNorm = g.info("blk.0.attn_q_norm.weight") != nil
        spec.projections = family == .phi3 ? .fused : .separate
        let window = try meta.optionalInt("attention.sliding_window").flatMap { $0 > 0 ? $0 : nil }
        switch family {
        case .gemma2, .gemma3:
            spec.normWeighting = .onePlusWeight
            spec.outputNorms = true
            spec.activation = .geluTanh
            spec.embeddingScale = Float(Double(hidden).squareRoot())
            // llama.cpp derives the score scale from the model size when the file does not say it:
            // 1/√(hidden/heads) for the 27B models (46 and 62 layers), else 1/√head_dim.
            let is27B = layers == (family == .gemma2 ? 46 : 62)
            spec.attentionScale = try meta.optionalFloat("attention.scale")
                ?? 1 / Float(is27B ? hidden / heads : headSize).squareRoot()
            spec.attentionSoftcap = try meta.optionalFloat("attn_logit_softcapping")
            spec.finalLogitSoftcap = try meta.optionalFloat("final_logit_softcapping")
            guard let window else { throw TinhError.badFile(path: g.path, reason: "\(arch).attention.sliding_window is missing") }
            let local = try sliding(meta, layers: layers, defaultPeriod: family == .gemma2 ? 2 : 6)
            spec.layers = local.map { $0 ? .init(window: window, localRoPE: family == .gemma3) : .global }
            if family == .gemma3 { spec.localRoPE = .init(theta: try meta.optionalFloat("rope.freq_base_swa") ?? 10000) }
        case .llama, .mistral, .qwen2, .qwen3, .phi3:
            if let window { spec.layers = Array(repeating: .init(window: window), count: layers) }
        }
        let c = DecoderConfig(
            vocabSize: vocab, hiddenSize: hidden, intermediateSize: try meta.int("feed_forward_length"),
            numLayers: layers, numHeads: heads, numKVHeads: kvHeads, headDim: headDim,
            ropeTheta: try meta.optionalFloat("rope.freq_base") ?? (family == .gemma3 ? 1_000_000 : 10000), ropeScaling: scaling,
            rmsNormEps: try meta.optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-5,
            maxPositions: try meta.optionalInt("context_length") ?? 2048,
            tieWordEmbeddings: g.info("output.weight") == nil, spec: spec)
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: g.path, reason: m)
        }
        return c
    }

    /// Which layers slide: `<arch>.attention.sliding_window_pattern` as a per-layer array of
    /// booleans or as a period (every period-th layer global), else llama.cpp's period for the family.
    private static func sliding(_ meta: GGUFMetadata, layers: Int, defaultPeriod: Int) throws -> [Bool] {
        let key = "attention.sliding_window_pattern"
        if let value = meta.value(key), let array = value.array {
            let flags = array.compactMap(\.bool)
            guard flags.count == layers else {
                throw TinhError.badFile(path: meta.file.path, reason: "\(meta.arch).\(key) has \(array.count) entries for \(layers) layers")
            }
            return flags
        }
        let period = try meta.optionalInt(key) ?? defaultPeriod
        guard period > 0 else { throw TinhError.badFile(path: meta.file.path, reason: "\(meta.arch).\(key) must be positive") }
        return (0..<layers).map { $0 % period < period - 1 }
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
        if g.info("rope_factors_long.weight") != nil || g.info("rope_factors_short.weight") != nil {
            throw TinhError.unsupported("rope_factors_long/short in \(g.path): Phi-3's longrope scaling is not implemented")
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

    static let blockParts: [String: String] = [
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_qkv": "self_attn.qkv_proj", "attn_output": "self_attn.o_proj", "attn_norm": "input_layernorm",
        "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
        "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    ]

    /// Where a family's names differ: Gemma's ffn_norm is the pre-MLP norm beside its post norms,
    /// and Phi-3's ffn_up holds gate and up together.
    static let familyParts: [ArchitectureSpec.Family: [String: String]] = [
        .gemma2: ["ffn_norm": "pre_feedforward_layernorm", "post_attention_norm": "post_attention_layernorm",
                  "post_ffw_norm": "post_feedforward_layernorm"],
        .gemma3: ["ffn_norm": "pre_feedforward_layernorm", "post_attention_norm": "post_attention_layernorm",
                  "post_ffw_norm": "post_feedforward_layernorm"],
        .phi3: ["ffn_up": "mlp.gate_up_proj"],
    ]

    /// GGUF tensor name -> Hugging Face name in `family`'s layout, or nil for names outside it.
    public static func hfName(_ gguf: String, family: ArchitectureSpec.Family = .llama) -> String? {
        switch gguf {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = gguf.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              String(layer) == parts[1], parts[3] == "weight" || parts[3] == "bias" else { return nil }
        let part = String(parts[2])
        guard let hf = familyParts[family]?[part] ?? blockParts[part] else { return nil }
        return "\(DecoderConfig.blockPrefix(layer))\(hf).\(parts[3])"
    }
}

/// `<arch>.<key>` metadata lookups with errors that name the key.
struct GGUFMetadata {
    let file: GGUFFile
    let arch: String

    func value(_ key: String) -> GGUFValue? { file.metadata["\(arch).\(key)"] }

    func int(_ key: String) throws -> Int {
        guard let v = try optionalInt(key) else {
            throw TinhError.badFile(path: file.path, reason: "metadata '\(arch).\(key)' is missing or not an integer")
        }
        return v
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.int else { throw TinhError.badFile(path: file.path, reason: "metadata '\(arch).\(key)' is not an integer") }
        return i
    }

    func optionalFloat(_ key: String) throws -> Float? {
        guard let v = value(key) else { return nil }
        guard let f = v.float else { throw TinhError.badFile(path: file.path, reason: "metadata '\(arch).\(key)' is not a number") }
        return f
    }
}
