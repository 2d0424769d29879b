import Foundation

/// `--method lora-fa` (Zhang et al., 2023): a `LoRAFA` module on every targeted Linear, A frozen
/// at LoRA's draw and only B trained. The export is a plain PEFT LoRA (A written with B).
public final class LoRAFAMethod: FineTuningMethod {
    public static var id: MethodID { .loraFA }
    public static var help: String { "A frozen, only B trains" }
    public static var optionsType: any MethodOptions.Type { LoRAFAOptions.self }

    let config: AdapterConfig
    let options: LoRAFAOptions
    public private(set) var modules: [(name: String, loraFA: LoRAFA)] = []

    public init(config: AdapterConfig) throws {
        self.config = config
        options = config.options(LoRAFAOptions.self)
    }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let module = try LoRAFA(linear: linear, rank: config.rank, scale: config.scale, parameters: parameters, projects: options.projection)
            modules.append((linear.name, module))
            return module
        }
    }

    public func initialize(rng: inout SeededGenerator) {
        for (_, module) in modules { module.initialize(rng: &rng) }
    }

    /// With `--lora-fa-projection`, B's gradient (all-reduced and clipped) is projected on every rank.
    public func beforeOptimizerStep() {
        for (_, module) in modules { module.projectGradient() }
    }

    public func frozenTensors() -> [String: Tensor] {
        ModuleTensors.prefixed(modules.map { ($0.name, $0.loraFA.frozenTensors()) })
    }

    /// Σ r·out over the adapted projections: only B trains.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank * $1.loraFA.outFeatures }
    }

    public func summaryLines(steps: Int) -> [String] {
        options.projection ? ["LoRA-FA: B's gradient projected by (r/α)²·(A·Aᵀ)⁻¹ (PEFT's LoRA-FA optimizer)"] : []
    }

    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        (tensors, try PEFTAdapterConfig(lora: config, baseModelName: baseModelName).encoded())
    }
}
