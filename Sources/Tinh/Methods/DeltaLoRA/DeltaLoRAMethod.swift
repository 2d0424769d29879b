import Foundation

/// `--method delta-lora` (Zi et al., 2023): a `DeltaLoRA` module (LoRA whose W also moves) on every
/// targeted Linear. Each rank moves its W without communication, so the ranks compare a
/// fingerprint of the moved weights at every checkpoint. The PEFT adapter alone does not carry the
/// moved W: the run exports a merged model too.
public final class DeltaLoRAMethod: FineTuningMethod {
    public static var id: MethodID { .deltaLoRA }
    public static var help: String { "LoRA whose W also moves by λ·s·Δ(B·A) after each step" }
    public static var optionsType: any MethodOptions.Type { DeltaLoRAOptions.self }

    let config: AdapterConfig
    let options: DeltaLoRAOptions
    public private(set) var modules: [(name: String, delta: DeltaLoRA)] = []

    public init(config: AdapterConfig) throws {
        self.config = config
        options = config.options(DeltaLoRAOptions.self)
    }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let module = try DeltaLoRA(linear: linear, rank: config.rank, scale: config.scale, parameters: parameters,
                                       lambda: options.lambda, start: options.start)
            modules.append((linear.name, module))
            return module
        }
    }

    public func initialize(rng: inout SeededGenerator) {
        for (_, module) in modules { module.initialize(rng: &rng) }
    }

    public func afterOptimizerStep(step: Int) {
        for (_, module) in modules { module.afterOptimizerStep(step: step) }
    }

    /// The moved weights, under PEFT's name for a wrapped layer's own weight (views, not copies).
    public func checkpointState() -> [String: Tensor] {
        ModuleTensors.prefixed(modules.map { ($0.name, $0.delta.extraState()) })
    }

    public func restoreCheckpointState(_ tensors: [String: Tensor]) throws {
        for (name, module) in modules { try module.restoreExtraState(ModuleTensors.of(name, in: tensors)) }
    }

    /// Compared when a checkpoint is written (hashing every moved W each step would cost a pass over them).
    public func agreement(afterStep step: Int, checkpoint: Bool) -> (what: String, fingerprint: String)? {
        guard checkpoint else { return nil }
        return ("\(Self.id.name) weights after step \(step + 1) (each rank updates them without communication, so they must be bit-identical)",
                StateFingerprint.of(checkpointState()))
    }

    /// LoRA's count: A and B train, W moves without being a parameter.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank * ($1.delta.lora.inFeatures + $1.delta.lora.outFeatures) }
    }

    public static var movesBaseWeights: Bool { true }
    public static var lowRankRefusal: String? {
        "Delta-LoRA also moved the base weights W, which a LoRA file on the original base cannot carry; the run's merged/ directory (written when training ends) holds the fine-tuned model; convert it with llama.cpp's convert_hf_to_gguf.py"
    }

    public func summaryLines(steps: Int) -> [String] {
        let floats = modules.reduce(0) { $0 + $1.delta.weight.count }
        return ["base weights move by \(options.lambda)·s·Δ(B·A) after each step from step \(options.start + 1) on"
            + (options.start >= steps ? " (after --steps \(steps): never in this run)" : "")
            + "; private copies of the \(modules.count) adapted weights: \(String(format: "%.1f", Double(floats) / 262_144)) MiB"]
    }

    /// The adapter is a plain LoRA (the moved W goes to the merged model).
    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        (tensors, try PEFTAdapterConfig(lora: config, baseModelName: baseModelName).encoded())
    }

    /// The paper's start (step 500) lies beyond a short comparison: let W move after the first fifth.
    public static func comparisonConfig(base: TrainConfig) -> TrainConfig {
        var c = base
        var options = c.adapter.options(DeltaLoRAOptions.self)
        options.start = min(options.start, base.steps / 5)
        c.adapter.options = options
        return c
    }
}
