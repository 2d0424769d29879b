import Foundation

/// What a run starts from: the model, data and adapters every rank loads, checked to be the same
/// on every rank before the first step.
extension Trainer {
    /// `loaded`, or `config.model` loaded on `gemm` (a rank the fault plan names loads its model
    /// instead); then the data and the adapters. Every rank learns whether every rank succeeded.
    static func load(config: TrainConfig, comm: Communicator, loaded: LoadedModel?, gemm: FrozenGEMM,
                     faults: FaultPlan) throws -> (LoadedModel, TrainingDataset, AdapterSet) {
        var model: LoadedModel!
        var dataset: TrainingDataset!
        var adapterSet: AdapterSet!
        // One f32 copy of a GGUF base per node, written by the node's first rank (a quantized
        // base is private per rank).
        let precision = config.adapter.resolvedBasePrecision
        // Full fine-tuning copies every weight into its trainable buffer: nothing would stay shared.
        let sharing = config.adapter.method.type.trainsWholeModel ? .off : config.sharedBase
        model = try loaded ?? BaseMemory.load(faults.model(forRank: comm.rank) ?? config.model, policy: sharing, basePrecision: precision, gemm: gemm, comm: comm)
        try comm.together("loading the data and adapters") {
            guard model.model.basePrecision == precision else {
                throw TinhError.invalidInput("the model was loaded with a \(model.model.basePrecision) base, but the run asks for \(precision)")
            }
            guard config.seq <= model.model.config.maxPositions else {
                throw TinhError.invalidInput("--seq \(config.seq) exceeds the context length of \(config.model) (\(model.model.config.maxPositions) positions)")
            }
            dataset = try TrainingDataset(path: config.data, tokenizer: model.tokenizer, options: config.dataOptions)
            adapterSet = try AdapterSet(model: model.model, config: config.adapter)
        }
        return (model, dataset, adapterSet)
    }

    /// The ranks compare their config, model, model file, data and adapter init: a difference is
    /// an error on every rank before anything trains.
    static func checkStartAgreement(config: TrainConfig, loaded model: LoadedModel, data dataset: TrainingDataset,
                                    adapters adapterSet: AdapterSet, comm: Communicator) throws {
        var initial = Fingerprint()
        initial.combine(sampling: adapterSet.parameters.values.data, count: adapterSet.parameters.count, stride: 1)
        for (_, t) in adapterSet.frozenTensors().sorted(by: { $0.key < $1.key }) { initial.combine(sampling: t.data, count: t.count, stride: 1) }
        try RankAgreement.check([
            "config": String(decoding: try JSONEncoder.sorted.encode(config), as: UTF8.self),
            "model": model.model.fingerprint,
            "model file": try ModelFileHash.of(model),
            "data": dataset.fingerprint,
            "adapter init": initial.hex,
        ], comm: comm)
    }

    /// Tells the collective watchdog (if any) what the next collectives are part of.
    func doing(_ what: String) { (comm as? CollectiveWatchdog)?.activity = what }
}
