import Foundation

/// Hugging Face PEFT's `adapter_config.json` for VeRA (`VeraConfig`), field for field. The fields
/// VeRA shares with LoRA (target_modules, layers_to_transform, bias, ...) are read as tolerantly
/// as `PEFTAdapterConfig` reads them, by decoding one; only VeRA's own fields are added here.
public struct PEFTVeRAConfig: Codable, Equatable {
    /// peft_type, task_type, base model, r, target_modules, layers, bias, fan_in_fan_out, modules_to_save.
    public var common = PEFTAdapterConfig()
    public var projectionPRNGKey: UInt64 = 0
    /// Whether adapter_model.safetensors holds vera_A and vera_B (Tinh always writes them, so PEFT
    /// need not reproduce Tinh's generator).
    public var saveProjection = true
    public var veraDropout: Float = 0
    public var dInitial: Float = 0.1
    public var initWeights = true

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
        case revision, inferenceMode = "inference_mode", r, targetModules = "target_modules"
        case projectionPRNGKey = "projection_prng_key", saveProjection = "save_projection"
        case veraDropout = "vera_dropout", dInitial = "d_initial", fanInFanOut = "fan_in_fan_out", bias
        case modulesToSave = "modules_to_save", initWeights = "init_weights"
        case layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
    }

    public init() { common.peftType = "VERA"; common.r = 256 }

    /// The config of a Tinh VeRA adapter.
    public init(_ config: AdapterConfig, baseModelName: String?) {
        self.init()
        common.r = config.rank
        common.targetModules = .names(config.peftTargetModules)
        common.layersToTransform = config.layers
        common.baseModelNameOrPath = baseModelName
        let options = config.options(VeRAOptions.self)
        projectionPRNGKey = options.projectionSeed
        dInitial = options.initialD
    }

    public init(from decoder: Decoder) throws {
        common = try PEFTAdapterConfig(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        projectionPRNGKey = try c.decodeIfPresent(UInt64.self, forKey: .projectionPRNGKey) ?? projectionPRNGKey
        saveProjection = try c.decodeIfPresent(Bool.self, forKey: .saveProjection) ?? saveProjection
        veraDropout = try c.decodeIfPresent(Float.self, forKey: .veraDropout) ?? veraDropout
        dInitial = try c.decodeIfPresent(Float.self, forKey: .dInitial) ?? dInitial
        initWeights = try c.decodeIfPresent(Bool.self, forKey: .initWeights) ?? initWeights
    }

    /// Writes every field `VeraConfig` saves, nulls included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(common.peftType, forKey: .peftType)
        try c.encode(common.taskType, forKey: .taskType)
        try c.encode(common.baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(common.revision, forKey: .revision)
        try c.encode(common.inferenceMode, forKey: .inferenceMode)
        try c.encode(common.r, forKey: .r)
        try c.encode(common.targetModules, forKey: .targetModules)
        try c.encode(projectionPRNGKey, forKey: .projectionPRNGKey)
        try c.encode(saveProjection, forKey: .saveProjection)
        try c.encode(veraDropout, forKey: .veraDropout)
        try c.encode(dInitial, forKey: .dInitial)
        try c.encode(common.fanInFanOut, forKey: .fanInFanOut)
        try c.encode(common.bias, forKey: .bias)
        try c.encode(common.modulesToSave, forKey: .modulesToSave)
        try c.encode(initWeights, forKey: .initWeights)
        try c.encode(common.layersToTransform, forKey: .layersToTransform)
        try c.encode(common.layersPattern, forKey: .layersPattern)
    }

    public static func read(path: String) throws -> PEFTVeRAConfig {
        try PEFTConfigJSON.read(PEFTVeRAConfig.self, path: path, kind: "VeRA adapter")
    }

    public func encoded() throws -> Data { try PEFTConfigJSON.encode(self) }
}
