import Foundation

/// Hugging Face PEFT's `adapter_config.json` for AdaLoRA (`AdaLoraConfig`, a `LoraConfig` with
/// init_r, target_r, tinit, tfinal, deltaT, beta1, beta2, orth_reg_weight, total_step and
/// rank_pattern: module path + ".lora_E" → one Bool per triplet of init_r, true = kept). The LoRA
/// fields are read by `PEFTAdapterConfig`; only AdaLoRA's own are added here.
public struct PEFTAdaLoRAConfig: Codable, Equatable {
    public var common = PEFTAdapterConfig()
    public var settings = AdaLoRASettings()
    public var initR = 12
    /// nil: no masking happened (all init_r triplets kept and stored).
    public var rankPattern: [String: [Bool]]?

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
        case revision, inferenceMode = "inference_mode", r, loraAlpha = "lora_alpha", targetModules = "target_modules"
        case loraDropout = "lora_dropout", bias, fanInFanOut = "fan_in_fan_out", useRSLoRA = "use_rslora"
        case initLoraWeights = "init_lora_weights", layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
        case modulesToSave = "modules_to_save", useDoRA = "use_dora"
        case targetR = "target_r", initR = "init_r", tinit, tfinal, deltaT, beta1, beta2
        case orthRegWeight = "orth_reg_weight", totalStep = "total_step", rankPattern = "rank_pattern"
    }

    public init() { common.peftType = "ADALORA" }

    /// The config of a Tinh AdaLoRA adapter with the masks' `rankPattern`.
    public init(_ config: AdapterConfig, baseModelName: String?, rankPattern: [String: [Bool]]?) {
        self.init()
        // `r` is LoraConfig's and unused by AdaLoRA (PEFT warns unless it is its default, 8).
        common.loraAlpha = config.alpha
        common.targetModules = .names(config.peftTargetModules)
        common.layersToTransform = config.layers
        // PEFT's AdaLoraConfig requires layers_pattern beside layers_to_transform.
        common.layersPattern = config.layers == nil ? nil : "layers"
        common.baseModelNameOrPath = baseModelName
        settings = config.options(AdaLoRAOptions.self).settings
        initR = config.rank
        self.rankPattern = rankPattern
    }

    public init(from decoder: Decoder) throws {
        common = try PEFTAdapterConfig(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AdaLoRASettings()
        settings = AdaLoRASettings(
            targetR: try c.decodeIfPresent(Int.self, forKey: .targetR) ?? d.targetR,
            tinit: try c.decodeIfPresent(Int.self, forKey: .tinit) ?? d.tinit,
            tfinal: try c.decodeIfPresent(Int.self, forKey: .tfinal) ?? d.tfinal,
            deltaT: try c.decodeIfPresent(Int.self, forKey: .deltaT) ?? d.deltaT,
            beta1: try c.decodeIfPresent(Float.self, forKey: .beta1) ?? d.beta1,
            beta2: try c.decodeIfPresent(Float.self, forKey: .beta2) ?? d.beta2,
            orthRegWeight: try c.decodeIfPresent(Float.self, forKey: .orthRegWeight) ?? d.orthRegWeight,
            totalStep: try c.decodeIfPresent(Int.self, forKey: .totalStep))
        initR = try c.decodeIfPresent(Int.self, forKey: .initR) ?? initR
        rankPattern = try c.decodeIfPresent([String: [Bool]].self, forKey: .rankPattern)
    }

    /// Writes every field `AdaLoraConfig` saves that Tinh sets, nulls included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(common.peftType, forKey: .peftType)
        try c.encode(common.taskType, forKey: .taskType)
        try c.encode(common.baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(common.revision, forKey: .revision)
        try c.encode(common.inferenceMode, forKey: .inferenceMode)
        try c.encode(common.r, forKey: .r)
        try c.encode(common.loraAlpha, forKey: .loraAlpha)
        try c.encode(common.targetModules, forKey: .targetModules)
        try c.encode(common.loraDropout, forKey: .loraDropout)
        try c.encode(common.bias, forKey: .bias)
        try c.encode(common.fanInFanOut, forKey: .fanInFanOut)
        try c.encode(common.useRSLoRA, forKey: .useRSLoRA)
        try c.encode(common.initLoraWeights, forKey: .initLoraWeights)
        try c.encode(common.layersToTransform, forKey: .layersToTransform)
        try c.encode(common.layersPattern, forKey: .layersPattern)
        try c.encode(common.modulesToSave, forKey: .modulesToSave)
        try c.encode(common.useDoRA, forKey: .useDoRA)
        try c.encode(settings.targetR, forKey: .targetR)
        try c.encode(initR, forKey: .initR)
        try c.encode(settings.tinit, forKey: .tinit)
        try c.encode(settings.tfinal, forKey: .tfinal)
        try c.encode(settings.deltaT, forKey: .deltaT)
        try c.encode(settings.beta1, forKey: .beta1)
        try c.encode(settings.beta2, forKey: .beta2)
        try c.encode(settings.orthRegWeight, forKey: .orthRegWeight)
        try c.encode(settings.totalStep, forKey: .totalStep)
        try c.encode(rankPattern, forKey: .rankPattern)
    }

    public static func read(path: String) throws -> PEFTAdaLoRAConfig {
        try PEFTConfigJSON.read(PEFTAdaLoRAConfig.self, path: path, kind: "AdaLoRA adapter")
    }

    public func encoded() throws -> Data { try PEFTConfigJSON.encode(self) }
}
