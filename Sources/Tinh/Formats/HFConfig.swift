import Foundation

/// A Hugging Face `config.json` for Llama-family models (Llama, SmolLM, Qwen2), decoded
/// strictly (an integer field holding 1.5 is an error) and turned into a `DecoderConfig`.
public struct HFConfig: Decodable {
    public var modelType: String?
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var ropeTheta: Double?
    public var rmsNormEps: Double?
    public var maxPositionEmbeddings: Int?
    public var tieWordEmbeddings: Bool?
    public var attentionBias: Bool?
    /// transformers < 5: `rope_scaling` beside a top-level `rope_theta`.
    public var ropeScaling: RopeParameters?
    /// transformers ≥ 5: `rope_parameters`, which holds `rope_theta` as well.
    public var ropeParameters: RopeParameters?
    /// Fields that change the arithmetic and that Tinh checks against what it implements.
    public var hiddenAct: String?
    public var partialRotaryFactor: Double?
    public var useSlidingWindow: Bool?
    public var slidingWindow: Int?
    public var hasQuantizationConfig = false

    /// One RoPE description, old or new style: its kind and the parameters of that kind.
    public struct RopeParameters: Decodable {
        public var type: String?
        public var ropeType: String?
        public var ropeTheta: Double?
        public var factor: Double?
        public var lowFreqFactor: Double?
        public var highFreqFactor: Double?
        public var originalMaxPositionEmbeddings: Int?
        enum CodingKeys: String, CodingKey {
            case type, factor
            case ropeType = "rope_type", ropeTheta = "rope_theta", lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }
        var kind: String { ropeType ?? type ?? "default" }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim", ropeTheta = "rope_theta", rmsNormEps = "rms_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case hiddenAct = "hidden_act", partialRotaryFactor = "partial_rotary_factor"
        case useSlidingWindow = "use_sliding_window", slidingWindow = "sliding_window"
        case quantizationConfig = "quantization_config"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias)
        ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        if c.contains(.ropeParameters), (try? c.decodeNil(forKey: .ropeParameters)) != true {
            guard let flat = try? c.decode(RopeParameters.self, forKey: .ropeParameters), flat.ropeType != nil || flat.ropeTheta != nil else {
                throw TinhError.unsupported("rope_parameters is not one set of RoPE parameters (per-layer-type RoPE belongs to other model types)")
            }
            ropeParameters = flat
        }
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct)
        partialRotaryFactor = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor)
        useSlidingWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)
        slidingWindow = try? c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        hasQuantizationConfig = c.contains(.quantizationConfig) && (try? c.decodeNil(forKey: .quantizationConfig)) != true
    }

    public static let supportedModelTypes = ["llama", "qwen2"]

    public static func read(path: String) throws -> HFConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(HFConfig.self, from: data)
        } catch {
            throw TinhError.badFile(path: path, reason: "not a usable Llama config.json: \(SafeTensorsFile.describe(error))")
        }
    }

    /// The model shape, with transformers' defaults for missing fields. Qwen2 implies q/k/v biases.
    public func llamaConfig(source: String) throws -> DecoderConfig {
        let type = modelType ?? "llama"
        guard Self.supportedModelTypes.contains(type) else {
            throw TinhError.unsupported("model_type '\(type)' in \(source) (Tinh loads \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        func refuse(_ field: String, _ value: String, _ why: String) -> TinhError {
            .unsupported("\(field) = \(value) in \(source): \(why); Tinh refuses it rather than compute another model")
        }
        if let act = hiddenAct, act != "silu" {
            throw refuse("hidden_act", "'\(act)'", "the MLP of model_type \(type) is implemented with SiLU (SwiGLU) only")
        }
        if let f = partialRotaryFactor, f != 1 {
            throw refuse("partial_rotary_factor", "\(f)", "RoPE on part of each head is not implemented")
        }
        if useSlidingWindow == true, let w = slidingWindow, w < (maxPositionEmbeddings ?? Int.max) {
            throw refuse("use_sliding_window", "true (sliding_window \(w))", "sliding-window attention is not implemented for \(type)")
        }
        if hasQuantizationConfig {
            throw refuse("quantization_config", "present", "pre-quantized Hugging Face checkpoints (GPTQ, AWQ, bitsandbytes) are not read; use the float weights or a GGUF")
        }
        // transformers 5 writes rope_parameters (with rope_theta inside); older versions rope_theta
        // and rope_scaling. Both at once must agree on θ.
        let rope = ropeParameters ?? ropeScaling
        let field = ropeParameters != nil ? "rope_parameters" : "rope_scaling"
        let theta = ropeParameters?.ropeTheta ?? ropeTheta ?? 10000
        if let a = ropeParameters?.ropeTheta, let b = ropeTheta, a != b {
            throw TinhError.badFile(path: source, reason: "rope_theta \(b) and rope_parameters.rope_theta \(a) disagree")
        }
        var scaling: RoPEScaling?
        if let rope {
            func need(_ v: Double?, _ name: String) throws -> Float {
                guard let v else { throw TinhError.badFile(path: source, reason: "\(field) of type '\(rope.kind)' needs '\(name)'") }
                return Float(v)
            }
            switch rope.kind {
            case "default": scaling = nil
            case "linear": scaling = .linear(factor: try need(rope.factor, "factor"))
            case "llama3":
                guard let original = rope.originalMaxPositionEmbeddings else {
                    throw TinhError.badFile(path: source, reason: "\(field) of type 'llama3' needs 'original_max_position_embeddings'")
                }
                scaling = .llama3(factor: try need(rope.factor, "factor"), lowFreqFactor: try need(rope.lowFreqFactor, "low_freq_factor"),
                                  highFreqFactor: try need(rope.highFreqFactor, "high_freq_factor"), originalMaxPositions: original)
            default:
                throw refuse("\(field).rope_type", "'\(rope.kind)'", "Tinh implements RoPE scaling 'default', 'linear' and 'llama3'")
            }
        }
        let c = DecoderConfig(
            vocabSize: vocabSize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
            numLayers: numHiddenLayers, numHeads: numAttentionHeads,
            numKVHeads: numKeyValueHeads ?? numAttentionHeads, headDim: headDim,
            ropeTheta: Float(theta), ropeScaling: scaling, rmsNormEps: Float(rmsNormEps ?? 1e-6),
            maxPositions: maxPositionEmbeddings ?? 2048,
            tieWordEmbeddings: tieWordEmbeddings ?? false,
            attentionBias: attentionBias ?? (type == "qwen2"))
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: source, reason: m)
        }
        return c
    }
}
