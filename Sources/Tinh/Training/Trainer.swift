import Foundation

/// Data-parallel fine-tuning of adapters on a frozen base. Every rank holds the model and the
/// same adapter init; each step, each rank runs forward/backward on its slice of the global batch,
/// the flat adapter-gradient buffer is summed over the ranks (in buckets started while backward
/// still runs, or in one fused all-reduce after it), together with the loss and token count, and
/// every rank applies the same AdamW update. Rank 0 alone writes logs, metrics and checkpoints.
/// This file is the step loop; beside it: Trainer+Setup, +Resume, +Checkpoint, +Agreement, +Export,
/// +StartReport, +Summary; RunFiles and MetricsLog (OUT's files); FaultPlan; StopRequest.
public final class Trainer {
    public let config: TrainConfig
    public let comm: Communicator
    public let loaded: LoadedModel
    public let data: TrainingDataset
    public let adapters: AdapterSet
    public let optimizer: AdamW
    let sampler: BatchSampler
    let groups: [ParameterGroup]
    /// OUT and what rank 0 writes there.
    let files: RunFiles
    var outDirectory: URL { files.directory }
    /// Faults to inject (tests, launch/chaos; `.none` in a normal run).
    let faults: FaultPlan
    /// Polled once per step: whether this rank asks the run to stop (`run`'s).
    private(set) var stop = StopRequest.never
    /// The next optimizer step to run (0-based).
    public internal(set) var step = 0
    /// Some rank asked to stop (SIGTERM/SIGINT) before the last step's all-reduce (all ranks see the same).
    var stopAgreed = false
    /// Set when `run` finishes: what the run achieved (also the last event and OUT/summary.json).
    public internal(set) var summary: TrainingSummary?
    /// Steps skipped for a non-finite loss or gradient: in all, and in a row (the stop rule).
    var badSteps = 0
    var badStreak = 0
    /// Lines a step has to report (rank 0 prints them after the step's own line).
    var stepNotes: [String] = []
    /// `--debug`: also find where the first non-finite value appeared (a scan of the gradients).
    public var debug = false
    /// Every rank's PSS and the PSS of its base weights' file mapping (0 when the base is private), in MiB.
    var pssPerRank: [(total: Double, base: Double)] = []
    /// The gradient buckets' all-reduces, driven from backward through `layerHook`.
    let reducer: BucketedAllreduce
    let mfuMeter: MFUMeter
    private let layerHook: (Int) -> Void
    /// With gradient accumulation: the earlier micro-batches' gradients, summed apart from backward.
    private let microBatchGradients: MicroBatchGradients?
    /// Loss, loss tokens and ranks asking to stop: summed in a small reduction of their own,
    /// started before the step's last backward so it rides along.
    private let stepSums = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3)

    /// `loaded` is a model already loaded (it keeps its `frozenGEMM`); otherwise the trainer loads
    /// `config.model` with its frozen Float32 products on `gemm`. `headChunkRows` sets the model's
    /// fused loss-path chunk (nil: leave it). `faults` are injected (tests and launch/chaos).
    public init(config: TrainConfig, comm: Communicator, loaded: LoadedModel? = nil, gemm: FrozenGEMM = .openblas,
                headChunkRows: Int? = nil, faults: FaultPlan = .none) throws {
        try config.validate(worldSize: comm.size)
        self.config = config
        self.comm = comm
        self.faults = faults
        let files = RunFiles(directory: URL(fileURLWithPath: config.out, isDirectory: true), budget: faults.makeWriteBudget())
        self.files = files
        // Rank 0 owns the output directory; every rank learns whether it is usable.
        try comm.together("preparing --out \(config.out)") {
            if comm.isRoot { try files.prepare() }
        }
        let (model, dataset, adapterSet) = try Trainer.load(config: config, comm: comm, loaded: loaded, gemm: gemm, faults: faults)
        self.loaded = model
        self.data = dataset
        self.adapters = adapterSet
        if let headChunkRows { model.model.headChunkRows = headChunkRows }
        model.model.setRecomputesBlocks(config.gradientCheckpointing)
        model.model.needsInputGradient = false
        try Trainer.checkStartAgreement(config: config, loaded: model, data: dataset, adapters: adapterSet, comm: comm)
        optimizer = AdamW(parameterCount: adapterSet.parameters.count, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon)
        groups = LoRAPlus.groups(adapterSet, ratio: config.loraPlusRatio, weightDecay: config.weightDecay)
        sampler = try BatchSampler(datasetSize: dataset.train.count, globalBatch: config.batch, seed: config.seed)
        mfuMeter = try MFUMeter(model: model.model, adapters: adapterSet, seq: config.seq, comm: comm)
        let plan = GradientBuckets(segments: adapterSet.layerSegments, count: adapterSet.parameters.count,
                                   bucketFloats: config.overlap ? GradientBuckets.floats(megabytes: config.bucketMB) : 0)
        let reducer = BucketedAllreduce(comm: comm, grads: adapterSet.parameters.grads.buffer, plan: plan)
        let accumulated = config.gradAccum > 1 || config.batchTokens != nil ? MicroBatchGradients(count: adapterSet.parameters.count) : nil
        if let accumulated {
            let buffer = adapterSet.parameters.grads.buffer
            reducer.beforeBucket = { accumulated.addBack(into: buffer, range: $0) }
        }
        microBatchGradients = accumulated
        self.reducer = reducer
        layerHook = { reducer.layerDone($0) }
    }

    deinit { stepSums.deallocate() }

    /// Trains from `step` to `config.steps`, reporting on rank 0 through `onEvent`. With
    /// `resumeFrom` (a checkpoint, or a run directory meaning its latest), continues that run.
    /// `stop` is polled each step; once a rank asks, every rank stops after a checkpoint.
    public func run(resumeFrom: URL? = nil, stop: StopRequest = .never, onEvent: (TrainingEvent) -> Void = { _ in }) throws {
        self.stop = stop
        if let resumeFrom {
            let note = try resume(from: resumeFrom)
            if comm.isRoot { onEvent(.message(note)) }
        }
        var log: MetricsLog?
        try comm.together("opening the output files") {
            guard comm.isRoot else { return }
            try files.writeConfig(config)
            log = try files.openLogs(keepingStepsBefore: step)
        }
        if comm.isRoot { onEvent(.started(startSummary)) }
        defer { log?.close() }
        let runStart = comm.wallTime()
        let firstStep = step
        var statistics = RunStatistics()
        while step < config.steps {
            let metrics = try trainStep(step)
            if step == firstStep {
                pssPerRank = try gatherPSS()
                if comm.isRoot { onEvent(.message(measuredMemoryLine)); onEvent(.message(pssLine)) }
            }
            if comm.isRoot { for note in stepNotes { onEvent(.message(note)) } }
            stepNotes.removeAll()
            statistics.record(metrics)
            if comm.isRoot {
                try log?.append(metrics)
                if step % config.logEvery == 0 || step == config.steps - 1 || metrics.skipped {
                    let done = step - firstStep + 1
                    let eta = (comm.wallTime() - runStart) / Double(done) * Double(config.steps - step - 1)
                    onEvent(.step(metrics, totalSteps: config.steps, etaSeconds: eta))
                }
            }
            let last = step == config.steps - 1
            if (config.evalEvery > 0 && (step + 1) % config.evalEvery == 0) || last, !data.valid.isEmpty {
                let result = try evaluate()
                statistics.lastEval = result
                if comm.isRoot {
                    try log?.append(EvalRecord(step: step, result: result))
                    onEvent(.eval(step: step, result))
                }
            }
            step += 1
            if (config.saveEvery > 0 && step % config.saveEvery == 0) || last || stopAgreed {
                try checkpoint(onEvent: onEvent)
            }
            faults.afterSteps(step, rank: comm.rank)
            if stopAgreed && !last {
                throw TrainingStopped(stepsDone: step, checkpoint: files.checkpoint(step: step).path)
            }
        }
        let mergedNote = try exportResult()
        try finish(statistics, steps: step - firstStep, seconds: comm.wallTime() - runStart, mergedNote: mergedNote, onEvent: onEvent)
    }

    /// One optimizer step over the global batch `step`.
    public func trainStep(_ step: Int) throws -> StepMetrics {
        let start = comm.wallTime()
        let grads = adapters.parameters.grads
        grads.zero()
        faults.beforeStep(step, rank: comm.rank, gradients: grads)
        doing("the gradient all-reduce of step \(step)")
        reducer.begin()
        let model = loaded.model
        let phases = model.phaseTimer
        let layout = try self.layout(step: step)
        var forwardTime = 0.0, backwardTime = 0.0, commTime = 0.0
        let sums = stepSums
        sums.update(repeating: 0)  // loss, loss tokens, ranks asking to stop
        var small: PendingReduction?
        microBatchGradients?.begin()
        for (k, group) in layout.microBatches.enumerated() {
            let t0 = comm.wallTime()
            let result: LossResult
            if layout.varlen {
                let batch = try data.train.varlenBatch(group)
                result = try model.forward(tokens: batch.tokens, targets: batch.targets, batch: 1, seq: batch.count, segments: batch.segments)
            } else {
                let batch = try data.train.batch(group)
                result = try model.forward(tokens: batch.tokens, targets: batch.targets, batch: batch.batch, seq: batch.seq)
            }
            let t1 = comm.wallTime()
            forwardTime += t1 - t0
            sums[0] += result.loss
            sums[1] += Double(result.count)
            let lastMicro = k == layout.microBatches.count - 1
            if lastMicro {
                faults.duringLastMicroBatch(step, rank: comm.rank)
                sums[2] = stop.isRequested ? 1 : 0
                small = try comm.startAllreduceSum(sums)
                // Only the last micro-batch's backward finishes the gradients: its layers start buckets.
                if config.overlap { model.onLayerBackwardDone = layerHook }
            }
            let t2 = comm.wallTime()
            commTime += t2 - t1
            // Gradients of the summed loss; divided by the global token count after the all-reduce,
            // so N ranks make the update 1 rank makes with the same global batch. Each micro-batch's
            // gradient starts from zero (MicroBatchGradients).
            if k > 0 { microBatchGradients?.setAside(grads.buffer) }
            model.backward(lossScale: 1)
            model.onLayerBackwardDone = nil
            backwardTime += comm.wallTime() - t2
        }
        let inBackward = reducer.commSeconds
        let t2 = comm.wallTime()
        let outer = phases.enter(.allreduce)
        defer { phases.leave(outer) }
        if config.overlap {
            try reducer.finish()  // adds the earlier micro-batches bucket by bucket (beforeBucket)
        } else {
            microBatchGradients?.addBack(into: grads.buffer, range: 0..<grads.count)
            try comm.allreduceSum(grads.buffer)
        }
        try small?.wait()
        stopAgreed = sums[2] > 0
        let exposedTime = comm.wallTime() - t2
        let allreduceTime = commTime + inBackward + exposedTime
        let computeTime = forwardTime + backwardTime - inBackward

        let t3 = comm.wallTime()
        _ = phases.enter(.optimizer)
        let tokens = sums[1]
        let loss = tokens > 0 ? sums[0] / tokens : .nan
        // Mean over the global loss tokens and clipping, in one pass over the gradients.
        let gradNorm: Double
        if adapters.method.hasRegularizer {
            // AdaLoRA: the regulariser's gradient joins the mean gradient before clipping, as
            // in PEFT (loss = mean cross-entropy + R), identically on every rank.
            GradientNorm.clip(grads.data, count: grads.count, maxNorm: 0, scale: Float(1 / max(tokens, 1)))
            _ = adapters.method.addRegularizerGradient()
            gradNorm = GradientNorm.clip(grads.data, count: grads.count, maxNorm: config.maxGradNorm)
        } else {
            gradNorm = GradientNorm.clip(grads.data, count: grads.count, maxNorm: config.maxGradNorm, scale: Float(1 / max(tokens, 1)))
        }
        let lr = config.learningRate.rate(at: step)
        let skipped = !loss.isFinite || !gradNorm.isFinite || tokens == 0
        // Decided from all-reduced values, so every rank skips the same steps.
        if skipped {
            badSteps += 1
            badStreak += 1
            if badStreak >= config.maxBadSteps { throw numericalFault(step: step, loss: loss) }
        } else {
            badStreak = 0
            adapters.method.beforeOptimizerStep()
            optimizer.step(params: adapters.parameters.values.data, grads: grads.data, groups: groups, lr: lr)
            adapters.method.afterOptimizerStep(step: step)
            _ = try checkAgreement(afterStep: step, checkpoint: false)
            stepNotes += adapters.method.stepNotes(afterStep: step, ranks: comm.size)
        }
        let optimizerTime = comm.wallTime() - t3
        let seconds = comm.wallTime() - start
        let positions = layout.positions
        return StepMetrics(step: step, loss: loss, lr: lr, gradNorm: gradNorm, lossTokens: Int(tokens), tokens: positions,
                           tokensPerSecond: Double(positions) / seconds, seconds: seconds,
                           forwardSeconds: forwardTime, backwardSeconds: backwardTime - inBackward, allreduceSeconds: allreduceTime,
                           computeSeconds: computeTime, exposedCommSeconds: exposedTime, optimizerSeconds: optimizerTime, peakRssMegabytes: peakRSSMegabytes(), world: comm.size, skipped: skipped,
                           mfu: mfuMeter.mfu(positions: positions, lossTokens: Int(tokens), seconds: seconds, attendedKeys: layout.attendedKeys),
                           realTokens: layout.realTokens, realTokensPerSecond: Double(layout.realTokens) / seconds, padShare: layout.padShare)
    }

    /// Validation loss, perplexity and accuracy with the current adapters (batches shared over ranks).
    public func evaluate() throws -> EvalResult {
        doing("the evaluation after step \(step + 1)")
        return try Evaluator.evaluate(loaded.model, data.valid, batchSize: config.microBatch(worldSize: comm.size), comm: comm)
    }
}
