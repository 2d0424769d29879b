import Foundation

extension Merge {
    /// A Hugging Face `config.json` for `config` that `HFConfig.read` and transformers accept, in
    /// the family's own fields: read back, it gives the same `DecoderConfig`, spec included. RoPE is
    /// written in the older fields (rope_theta, rope_scaling, Gemma 3's rope_local_base_freq), which
    /// transformers 4 reads and 5 converts. A
    /// Llama with q/k/v biases only (no o bias) is Qwen2's arithmetic, so it is written as qwen2.
    public static func configJSON(_ c: DecoderConfig, special: SpecialTokenIds? = nil) throws -> Data {
        let spec = c.spec
        // Floats through their shortest decimal form: 1e-05, not 9.99999974737875e-06.
        func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        var family = spec.family
        if family == .llama, spec.qkvBias, !spec.outputBias, !spec.mlpBias { family = .qwen2 }
        var f: [String: Any] = [
            "architectures": [Self.architectureClass[family]!], "model_type": family.rawValue,
            "vocab_size": c.vocabSize, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
            "num_hidden_layers": c.numLayers, "num_attention_heads": c.numHeads, "num_key_value_heads": c.numKVHeads,
            "head_dim": c.headDim, "max_position_embeddings": c.maxPositions, "rms_norm_eps": decimal(c.rmsNormEps),
            "tie_word_embeddings": c.tieWordEmbeddings, "torch_dtype": "float32",
        ]
        if let bos = special?.bos { f["bos_token_id"] = Int(bos) }
        if let eos = special?.eos { f["eos_token_id"] = Int(eos) }
        switch spec.activation {
        case .silu: f["hidden_act"] = "silu"
        case .geluTanh: f["hidden_act"] = "gelu_pytorch_tanh"; f["hidden_activation"] = "gelu_pytorch_tanh"
        }
        switch family {
        case .llama: f["attention_bias"] = spec.qkvBias; f["mlp_bias"] = spec.mlpBias
        case .qwen3, .gemma2, .gemma3: f["attention_bias"] = spec.qkvBias
        case .mistral, .qwen2, .phi3: break
        }
        if family == .gemma2 || family == .gemma3 {
            let scale = Double(spec.attentionScale ?? 1 / Float(c.headDim).squareRoot())
            let scalar = 1 / (scale * scale), whole = scalar.rounded()
            f["query_pre_attn_scalar"] = abs(scalar - whole) < 1e-3 * whole ? Int(whole) : scalar
            f["attn_logit_softcapping"] = spec.attentionSoftcap.map { decimal($0) } ?? NSNull()
            f["final_logit_softcapping"] = spec.finalLogitSoftcap.map { decimal($0) } ?? NSNull()
        }
        // Windows: layer_types for the families transformers gives them to, else one sliding_window.
        let windows = Set(spec.layers.compactMap(\.window))
        guard windows.count <= 1 else { throw TinhError.unsupported("layers with different sliding windows \(windows.sorted()) cannot be written to config.json") }
        let window = windows.first
        f["sliding_window"] = window ?? NSNull()
        if family == .qwen2 || family == .qwen3 { f["use_sliding_window"] = window != nil; f["max_window_layers"] = c.numLayers }
        if [.qwen2, .qwen3, .gemma2, .gemma3].contains(family) {
            f["layer_types"] = (0..<c.numLayers).map { spec.attention(layer: $0).window == nil ? "full_attention" : "sliding_attention" }
        }
        f["rope_theta"] = decimal(c.ropeTheta)
        if let scaling = c.ropeScaling { f["rope_scaling"] = try ropeFields(scaling, decimal: decimal) }
        if let local = spec.localRoPE {
            guard local.scaling == nil else { throw TinhError.unsupported("a scaled local RoPE cannot be written to config.json's older fields") }
            f["rope_local_base_freq"] = decimal(local.theta)
        }
        return try JSONSerialization.data(withJSONObject: f, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }

    static let architectureClass: [ArchitectureSpec.Family: String] = [
        .llama: "LlamaForCausalLM", .mistral: "MistralForCausalLM", .qwen2: "Qwen2ForCausalLM", .qwen3: "Qwen3ForCausalLM",
        .gemma2: "Gemma2ForCausalLM", .gemma3: "Gemma3ForCausalLM", .phi3: "Phi3ForCausalLM",
    ]

    /// `rope_scaling` as transformers reads it: rope_type and its parameters.
    static func ropeFields(_ scaling: RoPEScaling, decimal: (Float) -> Double) throws -> [String: Any] {
        var r: [String: Any] = [:]
        switch scaling {
        case .linear(let factor):
            r["rope_type"] = "linear"; r["factor"] = decimal(factor)
        case .llama3(let factor, let low, let high, let original):
            r["rope_type"] = "llama3"; r["factor"] = decimal(factor)
            r["low_freq_factor"] = decimal(low); r["high_freq_factor"] = decimal(high)
            r["original_max_position_embeddings"] = original
        case .divisors:
            throw TinhError.unsupported("the model's RoPE scaling came as a GGUF's rope_freqs factors, which config.json cannot express; export to GGUF instead")
        }
        return r
    }
}
