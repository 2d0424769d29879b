import Foundation

/// `--method adalora` (Zhang et al., 2023, as PEFT implements it): an `AdaLoRA` module (SVD-form
/// P·Λ·Q) on every targeted Linear, and one rank budget (`AdaLoRABudget`) over all of them that
/// this method owns: the orthogonality regulariser joins the mean gradient after the all-reduce,
/// and the budget masks triplets after each optimizer step. Ranks compare their masks after every
/// masking step.
public final class AdaLoRAMethod: FineTuningMethod {
    public static var id: MethodID { .adalora }
    public static var help: String { "SVD-form P·Λ·Q whose rank budget shrinks from --init-r to --target-r" }
    public static var optionsType: any MethodOptions.Type { AdaLoRAOptions.self }

    public static func resolvedRank(given: Int?, flags: MethodFlagValues) throws -> Int {
        try AdaLoRAOptions.resolvedRank(given: given, flags: flags)
    }

    let config: AdapterConfig
    /// The rank budget over every module; its masks and importance averages are checkpoint state.
    public private(set) var budget: AdaLoRABudget!
    public private(set) var modules: [(name: String, adalora: AdaLoRA)] = []

    public init(config: AdapterConfig) throws { self.config = config }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        let budget = AdaLoRABudget(settings: config.options(AdaLoRAOptions.self).settings, initR: config.rank, parameters: parameters)
        self.budget = budget
        return try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let module = try AdaLoRA(linear: linear, rank: config.rank, alpha: config.alpha, parameters: parameters, budget: budget)
            modules.append((linear.name, module))
            return module
        }
    }

    public func initialize(rng: inout SeededGenerator) {
        for (_, module) in modules { module.initialize(rng: &rng) }
    }

    public var hasRegularizer: Bool { true }

    /// R = w/(2M)·Σ_modules (‖Q·Qᵀ − I‖_F + ‖PᵀP − I‖_F): each module adds its share.
    public func addRegularizerGradient() -> Double {
        modules.reduce(0) { $0 + $1.adalora.addRegularizerGradient() }
    }

    public func afterOptimizerStep(step: Int) { budget.afterOptimizerStep(step: step) }

    /// Each module's mask (1 kept, 0 pruned) and importance EMAs, for a bit-exact resume.
    public func checkpointState() -> [String: Tensor] {
        ModuleTensors.prefixed(modules.map { ($0.name, budget.state(of: $0.adalora.index)) })
    }

    public func restoreCheckpointState(_ tensors: [String: Tensor]) throws {
        for (name, module) in modules { try budget.restore(module.index, from: ModuleTensors.of(name, in: tensors)) }
    }

    /// After a step that masked: ranks prune from identical all-reduced gradients and values, so
    /// different masks are a bug, an error on every rank rather than ranks training different models.
    public func agreement(afterStep step: Int, checkpoint: Bool) -> (what: String, fingerprint: String)? {
        guard budget.lastMaskingStep == step else { return nil }
        return ("AdaLoRA masks after step \(step + 1) (computed from all-reduced gradients, so they must be identical)", budget.maskFingerprint)
    }

    public func stepNotes(afterStep step: Int, ranks: Int) -> [String] {
        let st = budget.settings
        guard budget.lastMaskingStep == step, let total = st.totalStep, step == total - st.tfinal else { return [] }
        return ["AdaLoRA: final rank budget after step \(step + 1): \(budget.totalRank) of \(budget.initialBudget) triplets kept "
            + "(target \(budget.targetBudget)); masks identical on all \(ranks) rank(s) (FNV-1a \(budget.maskFingerprint))"]
    }

    /// Σ r·(in + out) + r over the adapted projections.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank * ($1.adalora.inFeatures + $1.adalora.outFeatures + 1) }
    }

    public func summaryLines(steps: Int) -> [String] {
        let st = budget.settings
        guard let total = st.totalStep else { return [] }
        return ["AdaLoRA: rank budget \(budget.initialBudget) → \(budget.targetBudget) triplets (init_r \(budget.initR) → target_r \(st.targetR) × \(budget.moduleCount) modules), "
            + "cubic between steps \(st.tinit + 1) and \(total - st.tfinal), masking every \(st.deltaT) step(s)"
            + (st.tfinal == 0 ? " (--tfinal 0: the target is approached, not reached)" : ", fixed for the last \(st.tfinal)")
            + "; orthogonality regulariser weight \(st.orthRegWeight)"]
    }

    /// Only the kept triplets of each module, with `rank_pattern` saying which they are.
    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        let (resized, pattern) = try AdaLoRAExport.resized(tensors, extra: state)
        return (resized, try PEFTAdaLoRAConfig(config, baseModelName: baseModelName, rankPattern: pattern).encoded())
    }

    public static func exportDescription(_ config: AdapterConfig) -> String {
        "AdaLoRA init_r=\(config.rank) target_r=\(config.options(AdaLoRAOptions.self).settings.targetR) alpha=\(config.alpha), kept triplets only, with rank_pattern"
    }

    public static var peftTypes: [String] { ["ADALORA"] }

    public static func loadPEFT(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        try PEFTAdapter.loadAdaLoRA(configPath: configPath, weightsPath: weightsPath, into: model)
    }

    /// PEFT's proportions (init_r 12 → target_r 8): start at 1.5 × the rank, end at the rank the
    /// other methods use; prune after a tenth of the steps and hold the final mask for the last fifth.
    public static func comparisonConfig(base: TrainConfig) -> TrainConfig {
        var c = base
        c.adapter.rank = max(base.adapter.rank * 3 / 2, base.adapter.rank + 1)
        c.adapter.options = AdaLoRAOptions(AdaLoRASettings(targetR: base.adapter.rank, tinit: base.steps / 10, tfinal: base.steps / 5,
                                                           totalStep: base.steps))
        return c
    }
}
