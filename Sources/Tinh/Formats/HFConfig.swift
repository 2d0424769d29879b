import Foundation

/// A Hugging Face `config.json` for Llama-family models (Llama, SmolLM, Qwen2), decoded
/// strictly (an integer field holding 1.5 is an error) and turned into a `LlamaConfig`.
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
    public var ropeScaling: RopeScaling?

    public struct RopeScaling: Decodable {
        public var type: String?
        public var ropeType: String?
        enum CodingKeys: String, CodingKey {
            case type
            case ropeType = "rope_type"
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim", ropeTheta = "rope_theta", rmsNormEps = "rms_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", ropeScaling = "rope_scaling"
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
    public func llamaConfig(source: String) throws -> LlamaConfig {
        let type = modelType ?? "llama"
        guard Self.supportedModelTypes.contains(type) else {
            throw TinhError.unsupported("model_type '\(type)' in \(source) (Tinh loads \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        if let s = ropeScaling, let kind = s.ropeType ?? s.type, kind != "default" {
            throw TinhError.unsupported("rope_scaling '\(kind)' in \(source); Tinh implements plain RoPE only")
        }
        let c = LlamaConfig(
            vocabSize: vocabSize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
            numLayers: numHiddenLayers, numHeads: numAttentionHeads,
            numKVHeads: numKeyValueHeads ?? numAttentionHeads, headDim: headDim,
            ropeTheta: Float(ropeTheta ?? 10000), rmsNormEps: Float(rmsNormEps ?? 1e-6),
            maxPositions: maxPositionEmbeddings ?? 2048,
            tieWordEmbeddings: tieWordEmbeddings ?? false,
            attentionBias: attentionBias ?? (type == "qwen2"))
        do { try c.validate() } catch let TinhError.invalidInput(m) {
            throw TinhError.badFile(path: source, reason: m)
        }
        return c
    }
}
