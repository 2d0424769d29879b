import Foundation

/// `--method lora` (Hu et al., 2021): a `LoRA` module on every targeted Linear, A and B trained.
/// LoRA+ and QLoRA are this method with another optimizer default and another base (subclasses).
public class LoRAMethod: FineTuningMethod {
    public class var id: MethodID { .lora }
    public class var help: String { "low-rank A, B beside each frozen W" }
    public class var defaultBasePrecision: BasePrecision { .f32 }
    public class var defaultLoRAPlusRatio: Float { 1 }
    public class var optionsType: any MethodOptions.Type { LoRAOptions.self }
    public class func validate(_ config: AdapterConfig) throws {}

    let config: AdapterConfig
    let options: LoRAOptions
    public private(set) var modules: [(name: String, lora: LoRA)] = []

    public required init(config: AdapterConfig) throws {
        self.config = config
        options = config.options(LoRAOptions.self)
    }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let lora = try LoRA(linear: linear, rank: config.rank, scale: config.scale, parameters: parameters, pissa: options.pissa)
            modules.append((linear.name, lora))
            return lora
        }
    }

    public func initialize(rng: inout SeededGenerator) {
        for (_, lora) in modules { lora.initialize(rng: &rng) }
    }

    /// PiSSA's A₀, B₀ (none otherwise).
    public func frozenTensors() -> [String: Tensor] {
        ModuleTensors.prefixed(modules.map { ($0.name, $0.lora.frozenTensors()) })
    }

    /// Σ r·(in + out) over the adapted projections.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank * ($1.lora.inFeatures + $1.lora.outFeatures) }
    }

    public func summaryLines(steps: Int) -> [String] {
        guard options.pissa else { return [] }
        let floats = modules.reduce(0) { $0 + $1.lora.inFeatures * $1.lora.outFeatures }
        return ["PiSSA init: A, B from each W's top-\(config.rank) singular triplets; training runs on private residual copies of the \(modules.count) adapted weights "
            + "(\(String(format: "%.1f", Double(floats) / 262_144)) MiB); the export is a rank-\(2 * config.rank) LoRA for the original base"]
    }

    public class func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        var peft = PEFTAdapterConfig(lora: config, baseModelName: baseModelName)
        guard config.options(LoRAOptions.self).pissa else { return (tensors, try peft.encoded()) }
        peft.r = 2 * config.rank
        peft.loraAlpha = config.rsLoRA ? config.alpha * Float(2).squareRoot() : 2 * config.alpha
        return (try PiSSA.convertedTensors(tensors), try peft.encoded())
    }

    public class func exportDescription(_ config: AdapterConfig) -> String {
        config.options(LoRAOptions.self).pissa ? "PiSSA r=\(config.rank) converted to LoRA r=\(2 * config.rank) for the original base"
            : "LoRA r=\(config.rank) alpha=\(config.alpha)"
    }

    /// PEFT's plain LoRA; with `use_dora` it is DoRA's (one reader for both).
    public class var peftTypes: [String] { ["LORA"] }

    public class func loadPEFT(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        try PEFTAdapter.loadLoRA(configPath: configPath, weightsPath: weightsPath, into: model)
    }

    public class func comparisonConfig(base: TrainConfig) -> TrainConfig { base }

    /// "pissa" in `tinh compare-methods`: LoRA with the PiSSA init, compared under its own name.
    public class var comparisonVariants: [String: (TrainConfig) -> TrainConfig] {
        [PiSSA.name: { base in
            var c = base
            c.adapter.method = .lora
            c.adapter.options = LoRAOptions(pissa: true)
            return c
        }]
    }
}

extension LoRA: MergeableAdapter {
    /// W += s·B·A, B [out, r], A [r, in].
    public func addDelta(to weight: UnsafeMutablePointer<Float>) {
        BLAS.gemm(.none, .none, m: outFeatures, n: inFeatures, k: rank, alpha: scale,
                  a: parameters.value(slotB), b: parameters.value(slotA), beta: 1, c: weight)
    }
}
