import Foundation

/// `--method vera` (Kopiczko et al., 2024): a `VeRA` module on every targeted Linear, all of them
/// reading one frozen random pair of projections that this method owns (`VeRAShared`), regenerated
/// from the seed on every rank and never trained, all-reduced or checkpointed.
public final class VeRAMethod: FineTuningMethod {
    public static var id: MethodID { .vera }
    public static var help: String { "one shared frozen random pair, two trained vectors per layer" }
    public static var optionsType: any MethodOptions.Type { VeRAOptions.self }

    let config: AdapterConfig
    let options: VeRAOptions
    /// The projections and scratch every module shares.
    let shared: VeRAShared
    public private(set) var modules: [(name: String, vera: VeRA)] = []

    public init(config: AdapterConfig) throws {
        self.config = config
        options = config.options(VeRAOptions.self)
        shared = VeRAShared(rank: config.rank, seed: options.projectionSeed)
    }

    public func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment {
        try Self.attachModules(to: model, config: config, parameters: parameters) { linear in
            let module = VeRA(linear: linear, rank: config.rank, initialD: options.initialD, parameters: parameters, shared: shared)
            modules.append((linear.name, module))
            return module
        }
    }

    /// The projections come from the VeRA seed, not `rng` (a pure function of seed, r, maxIn, maxOut).
    public func initialize(rng: inout SeededGenerator) {
        shared.generateIfNeeded()
        for (_, module) in modules { module.initialize(rng: &rng) }
    }

    /// Σ (r + out) over the adapted Linears.
    public func expectedTrainableCount() -> Int? {
        modules.reduce(0) { $0 + config.rank + $1.vera.outFeatures }
    }

    /// PEFT saves the projections once, as `base_model.vera_A` [r, maxIn] and `base_model.vera_B` [maxOut, r].
    public func exportTensors() -> [String: Tensor] {
        modules.isEmpty ? [:] : [VeRA.projectionAKey: shared.a, VeRA.projectionBKey: shared.b]
    }

    public static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                                 baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data) {
        (tensors, try PEFTVeRAConfig(config, baseModelName: baseModelName).encoded())
    }

    /// A VeRA checkpoint holds the vectors and the seed; the projections' shapes come from the
    /// model, so the model the run recorded is loaded to regenerate them.
    public static func exportCheckpoint(_ checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws {
        guard let spec = checkpoint.modelSpec else {
            throw TinhError.badFile(path: checkpoint.directory.path, reason: "records no model; a VeRA export needs it to regenerate the projections")
        }
        let loaded = try ModelSource.load(spec)
        let set = try AdapterSet(model: loaded.model, config: checkpoint.state.adapter)
        defer { set.detach() }
        let slots = set.parameters.slots
        let names = try AdapterTensors.check(checkpoint.adapter, slots: slots)
        try AdapterTensors.copy(from: checkpoint.adapter, names: names, slots: slots, into: set.parameters.values)
        try PEFTExport.write(adapters: set, baseModelName: baseModelName, to: directory)
    }

    public static func exportDescription(_ config: AdapterConfig) -> String {
        "VeRA r=\(config.rank) seed=\(config.options(VeRAOptions.self).projectionSeed)"
    }

    public static var peftTypes: [String] { ["VERA"] }

    public static func loadPEFT(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        try PEFTAdapter.loadVeRA(config: PEFTVeRAConfig.read(path: configPath), configPath: configPath, weightsPath: weightsPath, into: model)
    }

    /// VeRA needs a large rank and a larger learning rate (its paper's ranges).
    public static func comparisonConfig(base: TrainConfig) -> TrainConfig {
        var c = base
        c.adapter.rank = max(base.adapter.rank, 256)
        c.lr = base.lr * 5
        return c
    }
}
