import Foundation

/// Hugging Face PEFT's `adapter_config.json` for LoRA, field for field (names as `LoraConfig`
/// saves them). Decoding is tolerant, as PEFT files vary by version: unknown fields are ignored,
/// missing ones take PEFT's defaults, and fields PEFT allows in two shapes accept both
/// (`target_modules` list or regex string, `layers_to_transform` list or int).
public struct PEFTAdapterConfig: Codable, Equatable {
    public enum TargetModules: Equatable, Encodable {
        /// Module names or suffixes ("q_proj", "model.layers.0.self_attn.q_proj").
        case names([String])
        /// A regular expression that must match a whole module name.
        case regex(String)

        /// A list or a string, as PEFT writes `target_modules`.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .names(let list): try c.encode(list)
            case .regex(let regex): try c.encode(regex)
            }
        }
    }

    public var peftType: String = "LORA"
    public var taskType: String? = "CAUSAL_LM"
    public var baseModelNameOrPath: String?
    public var revision: String?
    public var inferenceMode = true
    public var r = 8
    public var loraAlpha: Float = 8
    public var targetModules: TargetModules = .names([])
    public var loraDropout: Float = 0
    public var bias = "none"
    public var fanInFanOut = false
    public var useRSLoRA = false
    /// PEFT also allows a string naming an init scheme ("gaussian", "pissa", ...); it only
    /// describes how training started, so Tinh reads any string as true.
    public var initLoraWeights = true
    /// The init scheme when init_lora_weights names one ("pissa", "gaussian", ...); nil for a Bool.
    public var initScheme: String?
    public var layersToTransform: [Int]?
    public var layersPattern: String?
    public var modulesToSave: [String]?
    public var useDoRA = false
    public var rankPattern: [String: Int] = [:]
    public var alphaPattern: [String: Float] = [:]
    /// Read only, to refuse what Tinh cannot apply; never written.
    public var layerReplication: [[Int]]?
    public var loraBias = false

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
        case revision, inferenceMode = "inference_mode", r, loraAlpha = "lora_alpha"
        case targetModules = "target_modules", loraDropout = "lora_dropout", bias, fanInFanOut = "fan_in_fan_out"
        case useRSLoRA = "use_rslora", initLoraWeights = "init_lora_weights", layersToTransform = "layers_to_transform"
        case layersPattern = "layers_pattern", modulesToSave = "modules_to_save", useDoRA = "use_dora"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern", layerReplication = "layer_replication"
        case loraBias = "lora_bias"
    }

    public init() {}

    /// The LoRA config of Tinh's settings (DoRA's sets `useDoRA` on it).
    public init(lora config: AdapterConfig, baseModelName: String?) {
        r = config.rank
        loraAlpha = config.alpha
        useRSLoRA = config.rsLoRA
        targetModules = .names(config.peftTargetModules)
        layersToTransform = config.layers
        baseModelNameOrPath = baseModelName
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try c.decodeIfPresent(String.self, forKey: .peftType) ?? peftType
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        revision = try c.decodeIfPresent(String.self, forKey: .revision)
        inferenceMode = try c.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? inferenceMode
        r = try c.decodeIfPresent(Int.self, forKey: .r) ?? r
        loraAlpha = try c.decodeIfPresent(Float.self, forKey: .loraAlpha) ?? loraAlpha
        if let list = try? c.decodeIfPresent([String].self, forKey: .targetModules) {
            targetModules = .names(list)
        } else if let regex = try c.decodeIfPresent(String.self, forKey: .targetModules) {
            targetModules = .regex(regex)
        }
        loraDropout = try c.decodeIfPresent(Float.self, forKey: .loraDropout) ?? loraDropout
        bias = try c.decodeIfPresent(String.self, forKey: .bias) ?? bias
        fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? fanInFanOut
        useRSLoRA = try c.decodeIfPresent(Bool.self, forKey: .useRSLoRA) ?? useRSLoRA
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .initLoraWeights) {
            initLoraWeights = flag
        } else {
            initScheme = try c.decodeIfPresent(String.self, forKey: .initLoraWeights)
            initLoraWeights = initScheme != nil || initLoraWeights
        }
        if let one = try? c.decodeIfPresent(Int.self, forKey: .layersToTransform) {
            layersToTransform = [one]
        } else {
            layersToTransform = try c.decodeIfPresent([Int].self, forKey: .layersToTransform)
        }
        if let list = try? c.decodeIfPresent([String].self, forKey: .layersPattern) {
            layersPattern = list.first
        } else {
            layersPattern = try c.decodeIfPresent(String.self, forKey: .layersPattern)
        }
        modulesToSave = try c.decodeIfPresent([String].self, forKey: .modulesToSave)
        useDoRA = try c.decodeIfPresent(Bool.self, forKey: .useDoRA) ?? useDoRA
        // AdaLoRA's rank_pattern holds one Bool per triplet (`PEFTAdaLoRAConfig` reads it).
        rankPattern = peftType.uppercased() == "ADALORA" ? [:] : try c.decodeIfPresent([String: Int].self, forKey: .rankPattern) ?? [:]
        alphaPattern = try c.decodeIfPresent([String: Float].self, forKey: .alphaPattern) ?? [:]
        layerReplication = try c.decodeIfPresent([[Int]].self, forKey: .layerReplication)
        loraBias = try c.decodeIfPresent(Bool.self, forKey: .loraBias) ?? loraBias
    }

    /// Writes every field PEFT writes, nulls included (PEFT's own files spell them out).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peftType, forKey: .peftType)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(revision, forKey: .revision)
        try c.encode(inferenceMode, forKey: .inferenceMode)
        try c.encode(r, forKey: .r)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(targetModules, forKey: .targetModules)
        try c.encode(loraDropout, forKey: .loraDropout)
        try c.encode(bias, forKey: .bias)
        try c.encode(fanInFanOut, forKey: .fanInFanOut)
        try c.encode(useRSLoRA, forKey: .useRSLoRA)
        try c.encode(initLoraWeights, forKey: .initLoraWeights)
        try c.encode(layersToTransform, forKey: .layersToTransform)
        try c.encode(layersPattern, forKey: .layersPattern)
        try c.encode(modulesToSave, forKey: .modulesToSave)
        try c.encode(useDoRA, forKey: .useDoRA)
        try c.encode(rankPattern, forKey: .rankPattern)
        try c.encode(alphaPattern, forKey: .alphaPattern)
    }

    public static func read(path: String) throws -> PEFTAdapterConfig {
        try PEFTConfigJSON.read(PEFTAdapterConfig.self, path: path, kind: "adapter")
    }

    /// Decodes the bytes of an adapter_config.json; `path` names it in messages.
    public static func decode(_ data: Data, path: String) throws -> PEFTAdapterConfig {
        try PEFTConfigJSON.decode(PEFTAdapterConfig.self, data, path: path, kind: "adapter")
    }

    public func encoded() throws -> Data { try PEFTConfigJSON.encode(self) }
}
