import Foundation

/// Data-parallel fine-tuning of adapters on a frozen base. Every rank holds the model and the
/// same adapter init; each step, each rank runs forward/backward on its slice of the global batch,
/// the flat adapter-gradient buffer is summed over the ranks (in buckets started while backward
/// still runs, or in one fused all-reduce after it), together with the loss and token count, and
/// every rank applies the same AdamW update. Rank 0 alone writes logs, metrics and checkpoints.
public final class Trainer {
    public let config: TrainConfig
    public let comm: Communicator
    public let loaded: LoadedModel
    public let data: TrainingDataset
    public let adapters: AdapterSet
    public let optimizer: AdamW
    let sampler: BatchSampler
    let groups: [ParameterGroup]
    let outDirectory: URL
    /// Faults to inject (tests, launch/chaos; `.none` in a normal run).
    let faults: FaultPlan
    /// The run's allowance for atomic writes (`FaultPlan.failWritesAfterBytes`), for every file the
    /// run writes, and for files the caller writes into OUT itself (`tinh train`'s config.yaml); nil without one.
    public let writeBudget: WriteBudget?
    /// The next optimizer step to run (0-based).
    public internal(set) var step = 0
    /// Polled once per step: whether this rank asks the run to stop (`run`'s).
    private(set) var stop = StopRequest.never
    /// Some rank asked to stop (SIGTERM/SIGINT) before the last step's all-reduce (all ranks see the same).
    var stopAgreed = false
    /// Set when `run` finishes: what the run achieved (also the last event and OUT/summary.json).
    public private(set) var summary: TrainingSummary?
    /// Steps skipped for a non-finite loss or gradient: in all, and in a row (the stop rule).
    var badSteps = 0
    /// Lines a step has to report (rank 0 prints them after the step's own line).
    var stepNotes: [String] = []
    var badStreak = 0
    /// `--debug`: also find where the first non-finite value appeared (a scan of the gradients).
    public var debug = false
    private var metricsFile: FileHandle?
    /// The gradient buckets' all-reduces, driven from backward through `layerHook`.
    let reducer: BucketedAllreduce
    private let layerHook: (Int) -> Void
    /// With gradient accumulation: the earlier micro-batches' gradients, summed apart from backward.
    private let microBatchGradients: MicroBatchGradients?
    /// Loss, loss tokens and ranks asking to stop: summed in a small reduction of their own,
    /// started before the step's last backward so it rides along.
    private let stepSums = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3)
    private var evalFile: FileHandle?

    /// `loaded` is a model already loaded (it keeps its `frozenGEMM`); otherwise the trainer loads
    /// `config.model` with its frozen Float32 products on `gemm`. `headChunkRows` sets the model's
    /// fused loss-path chunk (nil: leave it). `faults` are injected (tests and launch/chaos).
    public init(config: TrainConfig, comm: Communicator, loaded: LoadedModel? = nil, gemm: FrozenGEMM = .openblas,
                headChunkRows: Int? = nil, faults: FaultPlan = .none) throws {
        try config.validate(worldSize: comm.size)
        self.config = config
        self.comm = comm
        self.faults = faults
        writeBudget = faults.makeWriteBudget()
        let out = URL(fileURLWithPath: config.out, isDirectory: true)
        outDirectory = out
        // Rank 0 owns the output directory; every rank learns whether it is usable.
        try comm.together("preparing --out \(config.out)") {
            if comm.isRoot { try Trainer.prepareOutput(out) }
        }
        var model: LoadedModel!
        var dataset: TrainingDataset!
        var adapterSet: AdapterSet!
        // One f32 copy of a GGUF base per node, written by the node's first rank (a quantized
        // base is private per rank).
        let precision = config.adapter.resolvedBasePrecision
        // Full fine-tuning copies every weight into its trainable buffer: nothing would stay shared.
        let sharing = config.adapter.method == FullFineTuning.method ? .off : config.sharedBase
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
        self.loaded = model
        self.data = dataset
        self.adapters = adapterSet
        if let headChunkRows { model.model.headChunkRows = headChunkRows }
        model.model.setRecomputesBlocks(config.gradientCheckpointing)
        model.model.needsInputGradient = false
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
        optimizer = AdamW(parameterCount: adapterSet.parameters.count, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon)
        groups = LoRAPlus.groups(adapterSet, ratio: config.loraPlusRatio, weightDecay: config.weightDecay)
        sampler = try BatchSampler(datasetSize: dataset.train.count, globalBatch: config.batch, seed: config.seed)
        let plan = GradientBuckets(segments: adapterSet.layerSegments, count: adapterSet.parameters.count,
                                   bucketFloats: config.overlap ? GradientBuckets.floats(megabytes: config.bucketMB) : 0)
        let reducer = BucketedAllreduce(comm: comm, grads: adapterSet.parameters.grads.buffer, plan: plan)
        let accumulated = config.gradAccum > 1 ? MicroBatchGradients(count: adapterSet.parameters.count) : nil
        if let accumulated {
            let buffer = adapterSet.parameters.grads.buffer
            reducer.beforeBucket = { accumulated.addBack(into: buffer, range: $0) }
        }
        microBatchGradients = accumulated
        self.reducer = reducer
        layerHook = { reducer.layerDone($0) }
    }

    deinit { stepSums.deallocate() }

    static func prepareOutput(_ dir: URL) throws {
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw TinhError.invalidInput("cannot create --out \(dir.path): \(error.localizedDescription)")
        }
        let probe = dir.appendingPathComponent(".tinh-write-test-\(getpid())")
        guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
            throw TinhError.invalidInput("--out \(dir.path) is not writable")
        }
        try? FileManager.default.removeItem(at: probe)
    }

    /// Trains from `step` to `config.steps`, reporting on rank 0 through `onEvent`. With
    /// `resumeFrom` (a checkpoint, or a run directory meaning its latest), continues that run.
    /// `stop` is polled each step; once a rank asks, every rank stops after a checkpoint.
    public func run(resumeFrom: URL? = nil, stop: StopRequest = .never, onEvent: (TrainingEvent) -> Void = { _ in }) throws {
        self.stop = stop
        if let resumeFrom {
            let note = try resume(from: resumeFrom)
            if comm.isRoot { onEvent(.message(note)) }
        }
        try comm.together("opening the output files") {
            guard comm.isRoot else { return }
            try AtomicFile.write(try JSONEncoder.pretty.encode(config), to: outDirectory.appendingPathComponent("config.json").path, budget: writeBudget)
            metricsFile = try openMetrics(keepingStepsBefore: step)
            evalFile = try openMetrics(keepingStepsBefore: step, name: "eval.jsonl")
        }
        if comm.isRoot { onEvent(.started(startSummary)) }
        defer { try? metricsFile?.close(); metricsFile = nil; try? evalFile?.close(); evalFile = nil }
        let runStart = comm.wallTime()
        let firstStep = step
        var rates: [Double] = [], compute: [Double] = [], allreduce: [Double] = [], exposed: [Double] = []
        var lastLoss = Double.nan, lastEval: EvalResult?
        while step < config.steps {
            let metrics = try trainStep(step)
            if step == firstStep {
                pssPerRank = try gatherPSS()
                if comm.isRoot { onEvent(.message(measuredMemoryLine)); onEvent(.message(pssLine)) }
            }
            if comm.isRoot { for note in stepNotes { onEvent(.message(note)) } }
            stepNotes.removeAll()
            rates.append(metrics.tokensPerSecond)
            compute.append(metrics.computeSeconds); allreduce.append(metrics.allreduceSeconds); exposed.append(metrics.exposedCommSeconds)
            lastLoss = metrics.loss
            if comm.isRoot {
                try appendMetrics(metrics)
                if step % config.logEvery == 0 || step == config.steps - 1 || metrics.skipped {
                    let done = step - firstStep + 1
                    let eta = (comm.wallTime() - runStart) / Double(done) * Double(config.steps - step - 1)
                    onEvent(.step(metrics, totalSteps: config.steps, etaSeconds: eta))
                }
            }
            let last = step == config.steps - 1
            if (config.evalEvery > 0 && (step + 1) % config.evalEvery == 0) || last, !data.valid.isEmpty {
                let result = try evaluate()
                lastEval = result
                if comm.isRoot {
                    try appendLine(EvalRecord(step: step, result: result), to: evalFile, name: "eval.jsonl")
                    onEvent(.eval(step: step, result))
                }
            }
            step += 1
            if (config.saveEvery > 0 && step % config.saveEvery == 0) || last || stopAgreed {
                let agreed = try checkExtraStateAgreement()
                let path = try saveCheckpoint()
                if comm.isRoot {
                    onEvent(.checkpoint(step: step - 1, path: path))
                    if let agreed { onEvent(.message("all \(comm.size) ranks hold identical \(config.adapter.method) weights (FNV-1a \(agreed))")) }
                }
            }
            faults.afterSteps(step, rank: comm.rank)
            if stopAgreed && !last {
                let latest = Checkpoints.checkpointsDirectory(run: outDirectory).appendingPathComponent(Checkpoints.directoryName(step: step))
                throw TrainingStopped(stepsDone: step, checkpoint: latest.path)
            }
        }
        var mergedNote: String?
        try comm.together("exporting the adapter") {
            guard comm.isRoot else { return }
            if adapters.isFullFineTuning {
                mergedNote = try exportFullModel()
                return
            }
            try PEFTExport.write(adapters: adapters, baseModelName: PEFTExport.baseModelName(forSpec: loaded.spec),
                                 to: outDirectory.appendingPathComponent("adapter"), budget: writeBudget)
            if adapters.movesBaseWeights { mergedNote = try exportMerged() }
        }
        func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
        var summary = TrainingSummary(method: config.adapter.method, steps: step - firstStep, seconds: comm.wallTime() - runStart,
                                      medianTokensPerSecond: median(rates), lastLoss: lastLoss,
                                      eval: lastEval, peakRssMegabytes: peakRSSMegabytes(),
                                      trainableParameters: adapters.parameters.count, bytesAllReducedPerStep: allreduceBytesPerStep,
                                      world: comm.size, medianComputeSeconds: median(compute), medianAllreduceSeconds: median(allreduce),
                                      medianExposedCommSeconds: median(exposed), overlap: config.overlap, buckets: reducer.plan.buckets.count,
                                      pssMegabytesPerRank: pssPerRank.map(\.total), basePssMegabytesPerRank: pssPerRank.map(\.base),
                                      baseMegabytes: Double(loaded.baseBytes) / 1_048_576, sharedBase: loaded.sharedBasePath != nil)
        summary.simulatedLatencyMs = simulatedLatency.map { $0.latencySeconds * 1000 }
        self.summary = summary
        if comm.isRoot {
            try AtomicFile.write(try JSONEncoder.pretty.encode(summary), to: outDirectory.appendingPathComponent("summary.json").path, budget: writeBudget)
            if !adapters.isFullFineTuning { onEvent(.message("adapter (PEFT format): \(outDirectory.appendingPathComponent("adapter").path)")) }
            if let mergedNote { onEvent(.message(mergedNote)) }
            onEvent(.finished(summary))
        }
    }

    var trainerState: TrainerState {
        TrainerState(model: loaded.spec, config: config, nextStep: step, badSteps: badSteps, worldSize: comm.size, badStreak: badStreak)
    }

    /// Delta-LoRA moved the base weights, which the PEFT adapter does not carry: writes the
    /// fine-tuned model itself to OUT/merged/ (moved W + s·B·A). Returns a line saying so.
    func exportMerged() throws -> String {
        let directory = outDirectory.appendingPathComponent("merged", isDirectory: true)
        let (_, note) = try Merge.write(loaded: loaded, adapters: adapters, to: directory.appendingPathComponent("model.safetensors").path,
                                        budget: writeBudget)
        return "merged model: \(directory.path) (\(config.adapter.method) moved the base weights, so OUT/adapter alone does not reproduce the fine-tuned model)"
            + (note.map { "; " + $0 } ?? "")
    }

    /// Full fine-tuning: the trained model, every weight under its Hugging Face name, to OUT/model/.
    func exportFullModel() throws -> String {
        let directory = outDirectory.appendingPathComponent("model", isDirectory: true)
        let (_, note) = try Merge.write(loaded: loaded, adapters: adapters, to: directory.appendingPathComponent("model.safetensors").path,
                                        budget: writeBudget)
        return "fine-tuned model (every weight, safetensors): \(directory.path)" + (note.map { "; " + $0 } ?? "")
    }

    /// Every rank hashes its extra state (Delta-LoRA's moved weights, updated on each rank without
    /// communication) and the ranks compare the hashes: a difference is an error on every rank.
    /// Returns the agreed checksum, or nil when there is nothing to compare.
    func checkExtraStateAgreement() throws -> String? {
        guard comm.size > 1, !adapters.extraState().isEmpty else { return nil }
        if faults.perturbs(rank: comm.rank), let t = adapters.extraState().min(by: { $0.key < $1.key })?.value {
            t.data[0] = t.data[0].nextUp
        }
        let sum = adapters.extraStateChecksum()
        try RankAgreement.check(["\(config.adapter.method) weights after step \(step) (each rank updates them without communication, so they must be bit-identical)": sum], comm: comm)
        return sum
    }

    /// AdaLoRA: after a step that pruned, the ranks compare a fingerprint of their masks. They
    /// prune from identical all-reduced gradients and values, so a difference is a bug: an error
    /// on every rank rather than ranks that silently train different models.
    func checkMaskAgreement(step: Int) throws {
        guard let budget = adapters.adaLoRABudget, budget.lastMaskingStep == step else { return }
        var fingerprint = budget.maskFingerprint
        if faults.perturbs(rank: comm.rank) { fingerprint += "-perturbed" }
        try RankAgreement.check(["AdaLoRA masks after step \(step + 1) (computed from all-reduced gradients, so they must be identical)": fingerprint], comm: comm)
        if let total = budget.settings.totalStep, step == total - budget.settings.tfinal {
            stepNotes.append("AdaLoRA: final rank budget after step \(step + 1): \(budget.totalRank) of \(budget.initialBudget) triplets kept "
                + "(target \(budget.targetBudget)); masks identical on all \(comm.size) rank(s) (FNV-1a \(budget.maskFingerprint))")
        }
    }

    /// Rank 0 writes a checkpoint of the steps done so far; every rank learns whether it worked.
    func saveCheckpoint() throws -> String {
        var path = ""
        doing("writing the checkpoint after step \(step)")
        try comm.together("writing the checkpoint after step \(step)") {
            guard comm.isRoot else { return }
            do {
                path = try Checkpoints.save(step: step, adapters: adapters, optimizer: optimizer,
                                            trainerState: try JSONEncoder.sorted.encode(trainerState),
                                            runDirectory: outDirectory, keepLast: config.keepLast, budget: writeBudget).path
            } catch {
                // A full disk or read-only --out: the save left the previous checkpoint as it was.
                let previous = Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: outDirectory)).last
                throw TinhError.invalidInput("cannot write the checkpoint after step \(step): \(error); "
                    + (previous.map { "the previous checkpoint \($0.url.path) is intact; " } ?? "no earlier checkpoint exists; ")
                    + "free some space (or make --out writable) and continue with the same command plus --resume")
            }
        }
        return path
    }

    /// Rank 0 reads the checkpoint and sends adapter values, moments and counters to every rank,
    /// so the ranks need no shared file system. Returns a line saying what was resumed.
    func resume(from url: URL) throws -> String {
        var state: TrainerState?
        try comm.together("reading the checkpoint \(url.path)") {
            guard comm.isRoot else { return }
            let (_, bytes) = try Checkpoints.load(from: url, adapters: adapters, optimizer: optimizer)
            state = try JSONDecoder().decode(TrainerState.self, from: bytes)
        }
        let shared = try comm.broadcastBytes(comm.isRoot ? Array(try JSONEncoder.sorted.encode(state!)) : [], root: 0)
        let restored = try JSONDecoder().decode(TrainerState.self, from: Data(shared))
        for buffer in [adapters.parameters.values, optimizer.m, optimizer.v] {
            try comm.broadcast(UnsafeMutableRawBufferPointer(start: buffer.data, count: buffer.count * 4), root: 0)
        }
        // Extra state (Delta-LoRA's moved weights): rank 0's restored tensors go to every rank, and
        // every rank then restores from them (on rank 0 a repeat), after the values it depends on.
        let extra = adapters.extraState()
        if !extra.isEmpty {
            for name in extra.keys.sorted() {
                let t = extra[name]!
                try comm.broadcast(UnsafeMutableRawBufferPointer(start: t.data, count: t.count * 4), root: 0)
            }
            try adapters.restoreExtraState(extra)
        }
        var adamSteps = [Int64(optimizer.stepCount)]
        try adamSteps.withUnsafeMutableBytes { try comm.broadcast($0, root: 0) }
        optimizer.stepCount = Int(adamSteps[0])
        step = restored.nextStep
        badSteps = restored.badSteps
        badStreak = restored.badStreak ?? 0
        var note = "resuming after step \(restored.nextStep) from \(url.path)"
        if restored.worldSize != comm.size {
            note += " (written by \(restored.worldSize) rank(s), now \(comm.size): same global batch, so the same trajectory up to summation order)"
        }
        var differences: [String] = []
        var old = restored.config, new = config
        old.out = ""; new.out = ""
        if old.steps != new.steps { differences.append("--steps \(old.steps) → \(new.steps)") }
        old.steps = new.steps
        // How gradients are reduced never changes the result.
        // Neither does gradient checkpointing (the recomputed forward gives the same values).
        old.bucketMB = new.bucketMB; old.overlap = new.overlap; old.sharedBase = new.sharedBase
        old.gradientCheckpointing = new.gradientCheckpointing
        if old != new { differences.append("other settings differ from the checkpoint's config.json") }
        if !differences.isEmpty { note += "; note: " + differences.joined(separator: ", ") + " (the result will differ from an uninterrupted run)" }
        return note
    }

    /// The simulated-latency layer, also under the collective watchdog.
    var simulatedLatency: SimulatedLatencyCommunicator? { comm.simulatedLatency }

    /// Tells the collective watchdog (if any) what the next collectives are part of.
    func doing(_ what: String) { (comm as? CollectiveWatchdog)?.activity = what }

    /// The error that ends a run after `--max-bad-steps` skipped steps in a row: the step, with
    /// `--debug` where the first non-finite value is, and the newest checkpoint to go back to.
    func numericalFault(step: Int, loss: Double) -> TinhError {
        // Steps are 1-based here, as in the progress lines.
        var text = "stopping after step \(step + 1): steps \(step + 2 - badStreak)-\(step + 1) had a non-finite "
            + (loss.isFinite ? "gradient" : "loss") + " and were skipped, \(badStreak) in a row (--max-bad-steps \(config.maxBadSteps))"
        if debug {
            text += "; first non-finite value: " + (NonFinite.firstGradient(adapters.parameters).map { "gradient of \($0)" } ?? "the loss (gradients finite)")
        } else {
            text += "; rerun with --debug to find the layer"
        }
        let checkpoints = Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: outDirectory))
        text += checkpoints.last.map { "; last good checkpoint: \($0.url.path) (skipped steps never change the weights)" } ?? "; no checkpoint was written yet"
        return .invalidInput(text + "; try a lower --lr or check the data")
    }

    /// Validation loss, perplexity and accuracy with the current adapters (batches shared over ranks).
    public func evaluate() throws -> EvalResult {
        doing("the evaluation after step \(step + 1)")
        return try Evaluator.evaluate(loaded.model, data.valid, batchSize: config.microBatch(worldSize: comm.size), comm: comm)
    }

    /// One optimizer step over the global batch `step`.
    func trainStep(_ step: Int) throws -> StepMetrics {
        let start = comm.wallTime()
        let grads = adapters.parameters.grads
        grads.zero()
        faults.beforeStep(step, rank: comm.rank, gradients: grads)
        doing("the gradient all-reduce of step \(step)")
        reducer.begin()
        let model = loaded.model
        let phases = model.phaseTimer
        let mine = try sampler.indices(step: step, rank: comm.rank, worldSize: comm.size)
        let micro = config.microBatch(worldSize: comm.size)
        var forwardTime = 0.0, backwardTime = 0.0, commTime = 0.0
        let sums = stepSums
        sums.update(repeating: 0)  // loss, loss tokens, ranks asking to stop
        var small: PendingReduction?
        microBatchGradients?.begin()
        for first in stride(from: 0, to: mine.count, by: micro) {
            let batch = try data.train.batch(Array(mine[first..<(first + micro)]))
            let t0 = comm.wallTime()
            let result = try model.forward(tokens: batch.tokens, targets: batch.targets, batch: batch.batch, seq: batch.seq)
            let t1 = comm.wallTime()
            forwardTime += t1 - t0
            sums[0] += result.loss
            sums[1] += Double(result.count)
            let lastMicro = first + micro >= mine.count
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
            if first > 0 { microBatchGradients?.setAside(grads.buffer) }
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
        if adapters.method?.hasRegularizer == true {
            // AdaLoRA: the regulariser's gradient joins the mean gradient before clipping, as
            // in PEFT (loss = mean cross-entropy + R), identically on every rank.
            GradientNorm.clip(grads.data, count: grads.count, maxNorm: 0, scale: Float(1 / max(tokens, 1)))
            adapters.addRegularizerGradient()
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
            adapters.beforeOptimizerStep()
            optimizer.step(params: adapters.parameters.values.data, grads: grads.data, groups: groups, lr: lr)
            adapters.afterOptimizerStep(step: step)
            try checkMaskAgreement(step: step)
        }
        let optimizerTime = comm.wallTime() - t3
        let seconds = comm.wallTime() - start
        let positions = config.batch * config.seq
        return StepMetrics(step: step, loss: loss, lr: lr, gradNorm: gradNorm, lossTokens: Int(tokens), tokens: positions,
                           tokensPerSecond: Double(positions) / seconds, seconds: seconds,
                           forwardSeconds: forwardTime, backwardSeconds: backwardTime - inBackward, allreduceSeconds: allreduceTime,
                           computeSeconds: computeTime, exposedCommSeconds: exposedTime, optimizerSeconds: optimizerTime, peakRssMegabytes: peakRSSMegabytes(), world: comm.size, skipped: skipped)
    }

    /// What `tinh train` prints at start: model, data, the method with its trainable count next to
    /// the method's formula, bytes all-reduced per step, and the activation memory of a micro-batch.
    public var startSummary: String {
        let p = adapters.parameters.count, a = config.adapter
        let formula = adapters.expectedTrainableCount.map { "formula \($0)" + ($0 == p ? "" : ", MISMATCH") } ?? "no formula stated"
        var lines = [
            "model \(loaded.spec): \(loaded.config.numLayers) layers, hidden \(loaded.config.hiddenSize), loaded in \(String(format: "%.1f", loaded.loadSeconds)) s",
            data.summary,
            adapters.isFullFineTuning
                ? "full fine-tuning: every weight trains (embeddings, norms, projections; biases frozen): \(p) trainable parameters (\(formula))"
                : "\(a.method) r=\(a.rank) α=\(a.alpha) on \(a.targets.joined(separator: ",")): \(adapters.modules.count) modules, "
                    + "\(p) trainable parameters (\(formula))",
            baseSummary,
            "all-reduced per step: \(Self.bytes(allreduceBytesPerStep)) (\(p) gradient floats + loss and token count), " + reductionText,
            "activation memory per micro-batch of \(config.microBatch(worldSize: comm.size))×\(config.seq) (estimate): " + memoryText(activationEstimate),
            "\(comm.size) rank(s), global batch \(config.batch) (\(config.microBatch(worldSize: comm.size)) per micro-batch × \(config.gradAccum) per rank), seq \(config.seq), \(config.steps) steps, lr \(config.lr) \(config.schedule.rawValue)",
        ]
        if let simulated = simulatedLatency { lines.append(simulated.label) }
        if a.loraFAProjection { lines.append("LoRA-FA: B's gradient projected by (r/α)²·(A·Aᵀ)⁻¹ (PEFT's LoRA-FA optimizer)") }
        if let note = LoRAPlus.note(ratio: config.loraPlusRatio, method: a.method, parameters: adapters.parameters) { lines.append(note) }
        if adapters.movesBaseWeights { lines.append(deltaSummary) }
        if let budget = adapters.adaLoRABudget, let total = budget.settings.totalStep {
            let st = budget.settings
            lines.append("AdaLoRA: rank budget \(budget.initialBudget) → \(budget.targetBudget) triplets (init_r \(budget.initR) → target_r \(st.targetR) × \(budget.moduleCount) modules), "
                + "cubic between steps \(st.tinit + 1) and \(total - st.tfinal), masking every \(st.deltaT) step(s)"
                + (st.tfinal == 0 ? " (--tfinal 0: the target is approached, not reached)" : ", fixed for the last \(st.tfinal)")
                + "; orthogonality regulariser weight \(st.orthRegWeight)")
        }
        if a.initialization == "pissa" {
            let floats = adapters.modules.reduce(0) { $0 + (($1.adapter as? LoRA).map { $0.inFeatures * $0.outFeatures } ?? 0) }
            lines.append("PiSSA init: A, B from each W's top-\(a.rank) singular triplets; training runs on private residual copies of the \(adapters.modules.count) adapted weights "
                + "(\(String(format: "%.1f", Double(floats) / 262_144)) MiB); the export is a rank-\(2 * a.rank) LoRA for the original base")
        }
        return lines.joined(separator: "\n")
    }

    /// The base's line: precision and the bytes its projection weights hold.
    var baseSummary: String {
        let model = loaded.model
        let f32 = model.blocks.flatMap(\.linears).reduce(0) { $0 + $1.weight.count * 4 }
        var line = "base \(model.basePrecision): projection weights \(Self.bytes(model.projectionBytes))"
        if model.basePrecision == .bf16 {
            line += String(format: " (%.2f× less than f32's %@); their GEMMs and the LM head's run in bf16 through oneDNN %@ (%@), f32 accumulation; embedding and norms f32",
                           Double(f32) / Double(max(model.projectionBytes, 1)), Self.bytes(f32), BF16GEMM.oneDNNVersion, BF16GEMM.isa)
        } else if model.basePrecision != .f32 {
            line += String(format: " (%.2f× less than f32's %@), dequantized per layer into one %@ buffer (all of them once: %.0f ms; "
                           + "twice per micro-batch); embedding, head and norms f32",
                           Double(f32) / Double(max(model.projectionBytes, 1)), Self.bytes(f32), Self.bytes(model.dequantizationScratch.bytes),
                           1000 * model.timeDequantization())
        }
        return line
    }

    /// Bytes each rank sends into the all-reduces of one step: the gradient floats and three doubles
    /// (loss, loss tokens, stop requests).
    public var allreduceBytesPerStep: Int { adapters.parameters.count * MemoryLayout<Float>.stride + 3 * MemoryLayout<Double>.stride }

    /// How the gradients are reduced, for the start summary.
    var reductionText: String {
        guard config.overlap else { return "in one fused all-reduce after backward (--no-overlap)" }
        let n = reducer.plan.buckets.count
        return n == 1 ? "in 1 bucket started after backward (all gradients fit in --bucket-mb \(config.bucketMB))"
            : "in \(n) buckets of whole layers (--bucket-mb \(config.bucketMB)) started during backward"
    }

    /// The activation bytes (kept for backward, scratch) of one micro-batch with every position counted (an upper bound).
    public var activationEstimate: (kept: Int, scratch: Int) {
        let micro = config.microBatch(worldSize: comm.size)
        return loaded.model.activationEstimate(batch: micro, seq: config.seq, lossRows: micro * config.seq)
    }

    /// Every rank's PSS and the PSS of its base weights' file mapping (0 when the base is private), in MiB.
    var pssPerRank: [(total: Double, base: Double)] = []

    func gatherPSS() throws -> [(total: Double, base: Double)] {
        let (pss, base, _) = try BaseMemory.gather(loaded, comm: comm)
        return Array(zip(pss, base))
    }

    /// PSS per rank after the first step, and how the base is held.
    var pssLine: String {
        let base = Double(loaded.baseBytes) / 1_048_576
        let totals = pssPerRank.map { String(format: "%.0f", $0.total) }.joined(separator: ", ")
        var line = "PSS per rank after the first step: \(totals) MiB; base weights \(String(format: "%.0f", base)) MiB f32, "
        if adapters.isFullFineTuning {
            line += "trained: each rank holds them in its flat buffer, with gradients and AdamW moments (4 × the weights)"
        } else if loaded.sharedBasePath != nil {
            let shares = pssPerRank.map { String(format: "%.0f", $0.base) }.joined(separator: ", ")
            line += "one copy per node mapped from the cache (its share per rank: \(shares) MiB)"
        } else {
            line += "held by each rank" + (comm.localSize > 1 ? " (private copies; --shared-base on shares one per node)" : "")
        }
        return line
    }

    /// The activation bytes the model's buffers hold now (after a step: measured).
    var measuredMemoryLine: String {
        let m = loaded.model.activationMemory
        return "activation memory measured after the first step: " + memoryText((m.keptBytes, m.scratchBytes))
    }

    private func memoryText(_ m: (kept: Int, scratch: Int)) -> String {
        "\(Self.bytes(m.kept)) kept for backward + \(Self.bytes(m.scratch)) scratch"
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.1f MiB", Double(n) / 1048576)
    }

    /// Delta-LoRA's line of the start summary (with its line break), or nothing.
    private var deltaSummary: String {
        let a = config.adapter
        let floats = adapters.modules.compactMap { ($0.adapter as? DeltaLoRA)?.weight.count }.reduce(0, +)
        return "base weights move by \(a.deltaLambda)·s·Δ(B·A) after each step from step \(a.deltaStart + 1) on"
            + (a.deltaStart >= config.steps ? " (after --steps \(config.steps): never in this run)" : "")
            + "; private copies of the \(adapters.modules.count) adapted weights: \(String(format: "%.1f", Double(floats) / 262_144)) MiB"
    }

    /// Opens OUT/metrics.jsonl for appending, first dropping lines of steps at or after `firstStep`
    /// (a resumed run recomputes them).
    private func openMetrics(keepingStepsBefore firstStep: Int, name: String = "metrics.jsonl") throws -> FileHandle {
        let url = outDirectory.appendingPathComponent(name)
        let old = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let kept = old.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = object["step"] as? Int else { return false }
            return s < firstStep
        }
        try AtomicFile.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: url.path, budget: writeBudget)
        do {
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            return handle
        } catch {
            throw TinhError.badFile(path: url.path, reason: "cannot open for appending: \(error.localizedDescription)")
        }
    }

    private func appendMetrics(_ m: StepMetrics) throws {
        try appendLine(m, to: metricsFile, name: "metrics.jsonl")
    }

    private func appendLine<T: Encodable>(_ value: T, to file: FileHandle?, name: String) throws {
        var line = try JSONEncoder.compact.encode(value)
        line.append(0x0A)
        do { try file?.write(contentsOf: line) } catch {
            throw TinhError.badFile(path: outDirectory.appendingPathComponent(name).path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e }
    static var pretty: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]; return e }
    static var compact: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}
