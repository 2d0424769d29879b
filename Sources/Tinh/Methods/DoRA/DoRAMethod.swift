import Foundation

/// `--method dora` (Liu et al., 2024): a `DoRA` module on every targeted Linear (LoRA's A, B plus
/// a trained magnitude per output row). The modules share one scratch buffer for dy ⊙ g, which
/// lives only within one Linear's backward. The export is PEFT's LoRA with `use_dora`.
public final class DoRAMethod: FineTuningMethod {
    public static var id: MethodID { .dora }
    public static var lowRankRefusal: String? {
        "DoRA rescales each output row of W + ΔW to a trained magnitude, which no low-rank ΔW can express; export the merged model (--format gguf)"
    }
    public static var help: String { "LoRA plus a trained magnitude per output row" }

    let config: AdapterConfig
    public private(set) var modules: [(name: String, dora: DoRA)] = []
    private var scratch: DoRA.SharedScratch?

    public init(config: AdapterConfig) throws { self.config = config }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let shared = scratch ?? DoRA.SharedScratch(linear.activationMemory)
            scratch = shared
            let dora = try DoRA(linear: linear, rank: config.rank, scale: config.scale, parameters: parameters, scratch: shared)
            modules.append((linear.name, dora))
            return dora
        }
    }

    public func initialize(rng: inout SeededGenerator) {
        for (_, dora) in modules { dora.initialize(rng: &rng) }
    }

    /// LoRA's count plus m: Σ r·(in + out) + out.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank * ($1.dora.lora.inFeatures + $1.dora.outFeatures) + $1.dora.outFeatures }
    }

    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        var peft = PEFTAdapterConfig(lora: config, baseModelName: baseModelName)
        peft.useDoRA = true
        return (tensors, try peft.encoded())
    }
}
