import Foundation

/// config.json → `DecoderConfig` for each family: the shapes, then the family's `ArchitectureSpec`
/// from its own fields, with transformers' defaults where a field is missing. A field whose
/// arithmetic Tinh lacks is refused by name and value, never ignored.
extension HFConfig {
    public func decoderConfig(source: String) throws -> DecoderConfig {
        let type = modelType ?? "llama"
        guard let family = ArchitectureSpec.Family(rawValue: type) else {
            if type == "gemma3" {
                throw TinhError.unsupported("model_type 'gemma3' in \(source) is Gemma 3's image-and-text checkpoint (its text model sits in text_config); "
                    + "Tinh loads the text-only gemma3_text checkpoints (Gemma 3 1B, or a text model extracted from the larger ones) and llama.cpp's gemma3 GGUFs")
            }
            throw TinhError.unsupported("model_type '\(type)' in \(source) (Tinh loads \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        func refuse(_ field: String, _ value: String, _ why: String) -> TinhError {
            .unsupported("\(field) = \(value) in \(source): \(why); Tinh refuses it rather than compute another model")
        }
        let gemma = family == .gemma2 || family == .gemma3
        if hasQuantizationConfig {
            throw refuse("quantization_config", "present", "pre-quantized Hugging Face checkpoints (GPTQ, AWQ, bitsandbytes) are not read; use the float weights or a GGUF")
        }
        if let f = partialRotaryFactor ?? ropeParameters?.partialRotaryFactor, f != 1 {
            throw refuse("partial_rotary_factor", "\(f)", "RoPE on part of each head is not implemented")
        }
        if useBidirectionalAttention == true {
            throw refuse("use_bidirectional_attention", "true", "Tinh's attention is causal")
        }
        var spec = ArchitectureSpec(family: family)
        // Gemma reads hidden_activation (hidden_act is its legacy spelling); the others hidden_act.
        let (actField, act) = gemma && hiddenActivation != nil ? ("hidden_activation", hiddenActivation!) : ("hidden_act", hiddenAct ?? (gemma ? "gelu_pytorch_tanh" : "silu"))
        switch act {
        case "silu" where !gemma: spec.activation = .silu
        case "gelu_pytorch_tanh" where gemma: spec.activation = .geluTanh
        default:
            throw refuse(actField, "'\(act)'", "model_type \(type) is implemented with \(gemma ? "gelu_pytorch_tanh (GeGLU)" : "silu (SwiGLU)") only")
        }

        let heads = numAttentionHeads, headSize = headDim ?? hiddenSize / max(heads, 1)
        let rope = try ropes(family: family, source: source, refuse: refuse)
        spec.layers = try layerAttention(family: family, source: source, refuse: refuse)
        spec.localRoPE = rope.local
        let bias = attentionBias ?? false
        switch family {
        case .llama:
            spec.qkvBias = bias; spec.outputBias = bias; spec.mlpBias = mlpBias ?? false
        case .mistral:
            break
        case .qwen2:
            spec.qkvBias = true
        case .qwen3:
            spec.qkNorm = true; spec.qkvBias = bias; spec.outputBias = bias
        case .gemma2, .gemma3:
            spec.normWeighting = .onePlusWeight
            spec.outputNorms = true
            spec.qkNorm = family == .gemma3
            spec.qkvBias = bias; spec.outputBias = bias
            spec.attentionScale = Float(1 / (queryPreAttnScalar ?? (family == .gemma2 ? 256 : Double(headSize))).squareRoot())
            spec.attentionSoftcap = attnLogitSoftcapping.map { Float($0) }
            spec.finalLogitSoftcap = finalLogitSoftcapping.map { Float($0) }
            spec.embeddingScale = Float(Double(hiddenSize).squareRoot())
        case .phi3:
            spec.projections = .fused
        }
        let c = DecoderConfig(
            vocabSize: vocabSize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
            numLayers: numHiddenLayers, numHeads: heads,
            numKVHeads: numKeyValueHeads ?? heads, headDim: headDim,
            ropeTheta: rope.theta, ropeScaling: rope.scaling,
            rmsNormEps: Float(rmsNormEps ?? (family == .phi3 ? 1e-5 : 1e-6)),
            maxPositions: maxPositionEmbeddings ?? 2048,
            tieWordEmbeddings: tieWordEmbeddings ?? gemma,
            spec: spec)
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: source, reason: m)
        }
        return c
    }

    /// θ and scaling of the global layers, and the sliding layers' own RoPE (Gemma 3).
    private func ropes(family: ArchitectureSpec.Family, source: String, refuse: (String, String, String) -> TinhError) throws
        -> (theta: Float, scaling: RoPEScaling?, local: ArchitectureSpec.LocalRoPE?) {
        let defaultTheta: Double = family == .gemma3 ? 1_000_000 : 10000
        if let byType = ropeParametersByLayerType {
            if let other = byType.keys.sorted().first(where: { $0 != "full_attention" && $0 != "sliding_attention" }) {
                throw refuse("rope_parameters.\(other)", "present", "Tinh knows the layer types full_attention and sliding_attention")
            }
            guard let full = byType["full_attention"] else {
                throw TinhError.badFile(path: source, reason: "rope_parameters has no full_attention entry")
            }
            for (key, p) in byType { if let f = p.partialRotaryFactor, f != 1 { throw refuse("rope_parameters.\(key).partial_rotary_factor", "\(f)", "RoPE on part of each head is not implemented") } }
            let global = try scaling(full, field: "rope_parameters.full_attention", source: source, refuse: refuse)
            let local = try byType["sliding_attention"].map {
                ArchitectureSpec.LocalRoPE(theta: Float($0.ropeTheta ?? 10000),
                                           scaling: try scaling($0, field: "rope_parameters.sliding_attention", source: source, refuse: refuse))
            }
            return (Float(full.ropeTheta ?? defaultTheta), global, family == .gemma3 ? local : nil)
        }
        // transformers 5 writes rope_parameters (with rope_theta inside); older versions rope_theta
        // and rope_scaling. Both at once must agree on θ.
        if let a = ropeParameters?.ropeTheta, let b = ropeTheta, a != b {
            throw TinhError.badFile(path: source, reason: "rope_theta \(b) and rope_parameters.rope_theta \(a) disagree")
        }
        let theta = ropeParameters?.ropeTheta ?? ropeTheta ?? defaultTheta
        let parameters = ropeParameters ?? ropeScaling
        let global = try parameters.map { try scaling($0, field: ropeParameters != nil ? "rope_parameters" : "rope_scaling", source: source, refuse: refuse) } ?? nil
        // Gemma 3 before transformers 5: local layers at rope_local_base_freq, unscaled.
        let local = family == .gemma3 ? ArchitectureSpec.LocalRoPE(theta: Float(ropeLocalBaseFreq ?? 10000)) : nil
        return (Float(theta), global, local)
    }

    private func scaling(_ rope: RopeParameters, field: String, source: String, refuse: (String, String, String) -> TinhError) throws -> RoPEScaling? {
        func need(_ v: Double?, _ name: String) throws -> Float {
            guard let v else { throw TinhError.badFile(path: source, reason: "\(field) of type '\(rope.kind)' needs '\(name)'") }
            return Float(v)
        }
        switch rope.kind {
        case "default": return nil
        case "linear": return .linear(factor: try need(rope.factor, "factor"))
        case "llama3":
            guard let original = rope.originalMaxPositionEmbeddings else {
                throw TinhError.badFile(path: source, reason: "\(field) of type 'llama3' needs 'original_max_position_embeddings'")
            }
            return .llama3(factor: try need(rope.factor, "factor"), lowFreqFactor: try need(rope.lowFreqFactor, "low_freq_factor"),
                           highFreqFactor: try need(rope.highFreqFactor, "high_freq_factor"), originalMaxPositions: original)
        default:
            throw refuse("\(field).rope_type", "'\(rope.kind)'", "Tinh implements RoPE scaling 'default', 'linear' and 'llama3'")
        }
    }

    /// Each layer's window and RoPE: from `layer_types` when present (transformers ≥ 4.53 writes
    /// it), else from the family's older fields and fixed patterns.
    private func layerAttention(family: ArchitectureSpec.Family, source: String, refuse: (String, String, String) -> TinhError) throws
        -> [ArchitectureSpec.LayerAttention] {
        let n = numHiddenLayers
        // Qwen2/3 use sliding_window only with use_sliding_window (transformers nulls it otherwise).
        let qwen = family == .qwen2 || family == .qwen3
        let slidingWindow = qwen && useSlidingWindow != true ? nil : self.slidingWindow
        func window() throws -> Int {
            guard let w = slidingWindow else { throw TinhError.badFile(path: source, reason: "sliding layers need 'sliding_window'") }
            return w
        }
        func sliding() throws -> ArchitectureSpec.LayerAttention { .init(window: try window(), localRoPE: family == .gemma3) }
        if let types = layerTypes {
            guard types.count == n else {
                throw TinhError.badFile(path: source, reason: "layer_types has \(types.count) entries for \(n) layers")
            }
            // Without use_sliding_window, a Qwen's sliding entries mean nothing in transformers either.
            return try types.map { t in
                switch t {
                case "full_attention": return .global
                case "sliding_attention": return slidingWindow == nil && qwen ? .global : try sliding()
                default: throw refuse("layer_types", "'\(t)'", "Tinh knows full_attention and sliding_attention layers")
                }
            }
        }
        switch family {
        case .llama:
            return []
        case .mistral, .phi3:
            guard let w = slidingWindow else { return [] }
            return Array(repeating: .init(window: w), count: n)
        case .qwen2, .qwen3:
            guard let w = slidingWindow else { return [] }
            let first = maxWindowLayers ?? 28
            return (0..<n).map { $0 >= first ? .init(window: w) : .global }
        case .gemma2:
            return try (0..<n).map { $0 % 2 == 0 ? try sliding() : .global }
        case .gemma3:
            let period = slidingWindowPattern ?? 6
            return try (0..<n).map { ($0 + 1) % period != 0 ? try sliding() : .global }
        }
    }
}
