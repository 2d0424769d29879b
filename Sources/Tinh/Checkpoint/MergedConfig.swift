import Foundation

extension Merge {
    /// A minimal Hugging Face `config.json` for `config` that `HFConfig.read` and transformers
    /// accept. Tinh's attention biases are Qwen2's (q, k, v only), so such a model is written as qwen2.
    public static func configJSON(_ c: DecoderConfig, special: SpecialTokenIds? = nil) throws -> Data {
        let qwen = c.attentionBias
        // Floats through their shortest decimal form: 1e-05, not 9.99999974737875e-06.
        func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        let fields = HFConfigFields(
            architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], modelType: qwen ? "qwen2" : "llama",
            vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
            numHiddenLayers: c.numLayers, numAttentionHeads: c.numHeads, numKeyValueHeads: c.numKVHeads,
            headDim: c.headDim, hiddenAct: "silu", maxPositionEmbeddings: c.maxPositions,
            rmsNormEps: decimal(c.rmsNormEps), ropeTheta: decimal(c.ropeTheta),
            ropeScaling: try c.ropeScaling.map { try RopeScalingFields($0, decimal: decimal) },
            tieWordEmbeddings: c.tieWordEmbeddings, attentionBias: qwen ? nil : false, mlpBias: false,
            torchDtype: "float32", bosTokenId: special?.bos.map(Int.init), eosTokenId: special?.eos.map(Int.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(fields) + Data("\n".utf8)
    }

    struct HFConfigFields: Encodable {
        var architectures: [String]
        var modelType: String
        var vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim: Int
        var hiddenAct: String
        var maxPositionEmbeddings: Int
        var rmsNormEps, ropeTheta: Double
        var ropeScaling: RopeScalingFields?
        var tieWordEmbeddings: Bool
        var attentionBias: Bool?
        var mlpBias: Bool
        var torchDtype: String
        var bosTokenId: Int?
        var eosTokenId: Int?

        enum CodingKeys: String, CodingKey {
            case architectures, modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
            case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
            case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
            case hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps"
            case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias"
            case mlpBias = "mlp_bias", torchDtype = "torch_dtype", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        }
    }

    /// `rope_scaling` as transformers reads it (before and after version 5).
    struct RopeScalingFields: Encodable {
        var ropeType: String
        var factor: Double
        var lowFreqFactor, highFreqFactor: Double?
        var originalMaxPositionEmbeddings: Int?

        init(_ s: RoPEScaling, decimal: (Float) -> Double) throws {
            switch s {
            case .linear(let f):
                (ropeType, factor) = ("linear", decimal(f))
            case .llama3(let f, let low, let high, let original):
                (ropeType, factor, lowFreqFactor, highFreqFactor) = ("llama3", decimal(f), decimal(low), decimal(high))
                originalMaxPositionEmbeddings = original
            case .divisors:
                throw TinhError.unsupported("the model's RoPE scaling came as a GGUF's rope_freqs factors, which config.json cannot express; export to GGUF instead")
            }
        }

        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }
    }
}
