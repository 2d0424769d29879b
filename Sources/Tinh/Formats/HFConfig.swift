import Foundation

/// A Hugging Face `config.json` of a decoder family Tinh implements, decoded strictly (an integer
/// field holding 1.5 is an error) and turned into a `DecoderConfig` (`HFConfig+Families.swift`).
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
    public var mlpBias: Bool?
    /// transformers < 5: `rope_scaling` beside a top-level `rope_theta`.
    public var ropeScaling: RopeParameters?
    /// transformers ≥ 5: `rope_parameters`, which holds `rope_theta` as well; Gemma 3 keys one set
    /// per layer type ("full_attention", "sliding_attention").
    public var ropeParameters: RopeParameters?
    public var ropeParametersByLayerType: [String: RopeParameters]?
    /// Gemma 3 before transformers 5: the sliding layers' RoPE base.
    public var ropeLocalBaseFreq: Double?
    public var hiddenAct: String?
    public var hiddenActivation: String?
    public var partialRotaryFactor: Double?
    public var useSlidingWindow: Bool?
    public var slidingWindow: Int?
    public var maxWindowLayers: Int?
    /// Per layer "full_attention" or "sliding_attention" (transformers ≥ 4.53).
    public var layerTypes: [String]?
    public var slidingWindowPattern: Int?
    public var queryPreAttnScalar: Double?
    public var attnLogitSoftcapping: Double?
    public var finalLogitSoftcapping: Double?
    public var useBidirectionalAttention: Bool?
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
        public var partialRotaryFactor: Double?
        enum CodingKeys: String, CodingKey {
            case type, factor
            case ropeType = "rope_type", ropeTheta = "rope_theta", lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
            case partialRotaryFactor = "partial_rotary_factor"
        }
        var kind: String { ropeType ?? type ?? "default" }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim", ropeTheta = "rope_theta", rmsNormEps = "rms_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case ropeLocalBaseFreq = "rope_local_base_freq"
        case hiddenAct = "hidden_act", hiddenActivation = "hidden_activation", partialRotaryFactor = "partial_rotary_factor"
        case useSlidingWindow = "use_sliding_window", slidingWindow = "sliding_window", maxWindowLayers = "max_window_layers"
        case layerTypes = "layer_types", slidingWindowPattern = "sliding_window_pattern"
        case queryPreAttnScalar = "query_pre_attn_scalar", attnLogitSoftcapping = "attn_logit_softcapping"
        case finalLogitSoftcapping = "final_logit_softcapping", useBidirectionalAttention = "use_bidirectional_attention"
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
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias)
        ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        if c.contains(.ropeParameters), (try? c.decodeNil(forKey: .ropeParameters)) != true {
            if let flat = try? c.decode(RopeParameters.self, forKey: .ropeParameters), flat.ropeType != nil || flat.ropeTheta != nil {
                ropeParameters = flat
            } else if let byType = try? c.decode([String: RopeParameters].self, forKey: .ropeParameters), !byType.isEmpty {
                ropeParametersByLayerType = byType
            } else {
                throw TinhError.unsupported("rope_parameters is neither one set of RoPE parameters nor one per layer type")
            }
        }
        ropeLocalBaseFreq = try c.decodeIfPresent(Double.self, forKey: .ropeLocalBaseFreq)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct)
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation)
        partialRotaryFactor = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor)
        useSlidingWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        maxWindowLayers = try c.decodeIfPresent(Int.self, forKey: .maxWindowLayers)
        layerTypes = try c.decodeIfPresent([String].self, forKey: .layerTypes)
        slidingWindowPattern = try c.decodeIfPresent(Int.self, forKey: .slidingWindowPattern)
        queryPreAttnScalar = try c.decodeIfPresent(Double.self, forKey: .queryPreAttnScalar)
        attnLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .attnLogitSoftcapping)
        finalLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .finalLogitSoftcapping)
        useBidirectionalAttention = try c.decodeIfPresent(Bool.self, forKey: .useBidirectionalAttention)
        hasQuantizationConfig = c.contains(.quantizationConfig) && (try? c.decodeNil(forKey: .quantizationConfig)) != true
    }

    public static var supportedModelTypes: [String] { ArchitectureSpec.Family.allCases.map(\.rawValue) }

    public static func read(path: String) throws -> HFConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(HFConfig.self, from: data)
        } catch let e as TinhError {
            throw e
        } catch {
            throw TinhError.badFile(path: path, reason: "not a usable decoder config.json: \(SafeTensorsFile.describe(error))")
        }
    }
}
