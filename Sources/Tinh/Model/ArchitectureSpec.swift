/// What sets one decoder family apart from another, as data: `DecoderBlock` and `DecoderModel`
/// read it, so a family is described here (and in the loaders' name tables), never forked.
/// Shapes (hidden size, heads, …) stay in `DecoderConfig`; this holds the arithmetic choices.
public struct ArchitectureSpec: Codable, Equatable, Sendable {
    /// The Hugging Face `model_type` the spec was read as (names and exports follow it).
    public enum Family: String, Codable, CaseIterable, Sendable {
        case llama, mistral, qwen2, qwen3, gemma2, gemma3 = "gemma3_text", phi3
    }

    /// How an RMSNorm applies its weight: x̂·w (Llama) or x̂·(1 + w) (Gemma, whose weights are stored
    /// as offsets from 1).
    public enum NormWeighting: String, Codable, Sendable { case weight, onePlusWeight }

    /// The MLP's gate: silu(g)·u (SwiGLU) or gelu_tanh(g)·u (GeGLU, Gemma).
    public enum Activation: String, Codable, Sendable { case silu, geluTanh = "gelu_pytorch_tanh" }

    /// Separate q/k/v and gate/up projections, or Phi-3's fused `qkv_proj` and `gate_up_proj`.
    public enum Projections: String, Codable, Sendable { case separate, fused }

    /// One layer's attention: which keys a query sees and which RoPE rotates them.
    public struct LayerAttention: Codable, Equatable, Sendable {
        /// Keys within this many positions of the query (itself included); nil: every earlier key.
        public var window: Int?
        /// Whether the layer uses the local RoPE (`localRoPE`) instead of the model's.
        public var localRoPE: Bool
        public init(window: Int? = nil, localRoPE: Bool = false) { self.window = window; self.localRoPE = localRoPE }
        public static let global = LayerAttention()
    }

    /// A second RoPE for sliding-window layers (Gemma 3: base 10 000, no scaling, beside the
    /// global layers' 1 000 000 and their scaling).
    public struct LocalRoPE: Codable, Equatable, Sendable {
        public var theta: Float
        public var scaling: RoPEScaling?
        public init(theta: Float, scaling: RoPEScaling? = nil) { self.theta = theta; self.scaling = scaling }
    }

    public var family: Family
    public var normWeighting: NormWeighting = .weight
    /// Gemma's extra norms on the attention and MLP outputs, before each residual add.
    public var outputNorms = false
    public var activation: Activation = .silu
    /// RMSNorm over each head of q and k, before RoPE (Qwen3, Gemma 3).
    public var qkNorm = false
    public var projections: Projections = .separate
    /// Biases on q, k and v (Qwen2; Llama's, Qwen3's and Gemma's `attention_bias`).
    public var qkvBias = false
    /// A bias on o_proj (`attention_bias` of Llama, Qwen3 and Gemma; Qwen2 has none there).
    public var outputBias = false
    /// Biases on the MLP's projections (Llama's `mlp_bias`).
    public var mlpBias = false
    /// Scores are q·k times this; nil: 1/√head_dim. Gemma: query_pre_attn_scalar^-1/2.
    public var attentionScale: Float?
    /// Scores become c·tanh(s/c) before the softmax (Gemma 2).
    public var attentionSoftcap: Float?
    /// Logits become c·tanh(l/c) (Gemma 2).
    public var finalLogitSoftcap: Float?
    /// Embeddings are multiplied by this after the lookup (Gemma: √hidden, rounded to Float32).
    public var embeddingScale: Float?
    /// Per layer; empty means every layer is `.global`.
    public var layers: [LayerAttention] = []
    public var localRoPE: LocalRoPE?

    public init(family: Family) { self.family = family }

    /// Layer `i`'s attention.
    public func attention(layer i: Int) -> LayerAttention { i < layers.count ? layers[i] : .global }

    /// The norm weight offset the kernels add to every stored weight (0 or 1).
    public var normShift: Float { normWeighting == .onePlusWeight ? 1 : 0 }

    /// Llama, SmolLM and anything that is Llama-shaped.
    public static let llama = ArchitectureSpec(family: .llama)

    /// Checks what the numbers must satisfy for the kernels (a bad file is an error, not a trap).
    func validate(numLayers: Int) throws {
        func need(_ ok: Bool, _ what: String) throws { if !ok { throw TinhError.invalidInput("model config: \(what)") } }
        try need(layers.isEmpty || layers.count == numLayers, "\(layers.count) per-layer attention entries for \(numLayers) layers")
        try need(layers.allSatisfy { ($0.window ?? 1) > 0 }, "a sliding window must be positive")
        try need(layers.allSatisfy { !$0.localRoPE } || localRoPE != nil, "a layer uses the local RoPE but none is given")
        for (name, v) in [("attention scale", attentionScale), ("attention soft-cap", attentionSoftcap),
                          ("final logit soft-cap", finalLogitSoftcap), ("embedding scale", embeddingScale)] {
            if let v { try need(v > 0 && v.isFinite, "\(name) must be positive (got \(v))") }
        }
        if let local = localRoPE { try need(local.theta > 0, "local rope theta must be positive") }
    }

    /// One line per choice, for `tinh inspect`.
    public var summaryLines: [String] {
        var lines = [
            "family \(family.rawValue)",
            "norm RMSNorm x̂·\(normWeighting == .onePlusWeight ? "(1 + w)" : "w")\(outputNorms ? ", pre and post norms around attention and MLP" : ", pre-norm")",
            "activation \(activation == .silu ? "SiLU (SwiGLU)" : "GELU tanh (GeGLU)")",
            "projections \(projections == .fused ? "fused qkv_proj and gate_up_proj" : "separate q/k/v, gate/up")"
                + (qkvBias ? ", q/k/v biases" : "") + (outputBias ? ", o bias" : "") + (mlpBias ? ", MLP biases" : ""),
            "q/k norm \(qkNorm ? "per head" : "none")",
            "attention scale \(attentionScale.map { "\($0)" } ?? "1/√head_dim")",
            "soft-caps attention \(attentionSoftcap.map { "\($0)" } ?? "none"), final logits \(finalLogitSoftcap.map { "\($0)" } ?? "none")",
            "embedding scale \(embeddingScale.map { "\($0)" } ?? "none")",
        ]
        let windows = layers.map { l in l.window.map { "local \($0)" + (l.localRoPE ? " (local RoPE)" : "") } ?? "global" }
        lines.append("attention per layer " + (windows.isEmpty ? "all global" : windows.joined(separator: ", ")))
        if let local = localRoPE {
            lines.append("local RoPE θ \(local.theta)\(local.scaling.map { " scaled " + $0.summary } ?? "")")
        }
        return lines
    }
}
