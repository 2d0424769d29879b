import ArgumentParser
import Foundation
import Tinh

extension LearningRateSchedule.Decay: ExpressibleByArgument {}
extension SharedBaseCache.Policy: ExpressibleByArgument {}
extension MethodID: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune adapters on a frozen model; under mpirun, data-parallel over the ranks.",
        discussion: """
            Writes OUT/config.json (every resolved setting), OUT/config.yaml (the flags given, from --config and the \
            command line, which --config reads back), OUT/metrics.jsonl, OUT/eval.jsonl, OUT/checkpoints/ and OUT/adapter/ \
            (PEFT format). --method delta-lora also moves the adapted base weights, so it writes OUT/merged/ too: \
            the PEFT adapter alone does not reproduce that fine-tuned model.

            At start the data's per-line check runs (empty fields, chat role order, odd characters; \
            `tinh data check` is the full report): errors stop the run unless --allow-data-errors.

            Every flag can come from a YAML file: keys are the long flag names (snake_case or kebab-case), \
            `true` turns a switch on, a list becomes a comma list; flags on the command line win.

            \(MethodFlagValues.helpText)

            Examples:
              tinh train --model smollm2 --data train.jsonl --out runs/a --steps 200 \\
                --lr 2e-4 --eval-every 20
              tinh train --config runs/a/config.yaml --out runs/b --lr 1e-4
              launch/run -n 2 -- train --config base.yaml --method dora
            """)

    @Option(help: "A YAML file of flags (keys = long flag names); command-line flags override it.") var config: String?
    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 or tiny[:seed].") var model: String
    @Option(help: "Training data, JSONL ({\"text\"}, {\"prompt\",\"completion\"} or {\"messages\"}).") var data: String
    @Option(help: "Validation data; without it --valid-fraction of --data is held out.") var valid: String?
    @Option(help: "Share of --data held out for validation when there is no --valid.") var validFraction = 0.05
    @Option(help: "Output directory.") var out: String

    @Option(help: ArgumentHelp("Fine-tuning method: \(MethodID.help). Each method's own flags are listed below.", valueName: "method"))
    var method: MethodID = .lora
    @Option(help: "How the frozen base's projection weights are held: f32, nf4, q8, q4, bf16 or int8 (default nf4 for qlora, else f32); see `tinh eval --help`.")
    var basePrecision: String?
    @Option(help: "Adapter rank r (default 8; VeRA: the shared projections' rank, typically 256-1024; AdaLoRA: same as --init-r, default 12).") var rank: Int?
    @Option(help: "Adapter scale numerator α (scale α/r).") var alpha: Float = 16
    @Flag(help: "Scale by α/√r (rsLoRA).") var rslora = false
    @Option(help: "Projections to adapt: any of q,k,v,o,gate,up,down. Default: q,v, or qkv on a model with fused projections (Phi-3).") var targets: String?
    @Option(help: "Blocks to adapt, e.g. 0-11 or 0,5,7 (default: all).") var layers: String?
    @Option(help: "LoRA+: learning-rate ratio of B to A (default 16 for lora-plus, 1 otherwise; no effect with lora-fa).") var loraplusRatio: Float?
    /// The flags of the chosen method (`MethodFlagValues` reads and checks them; they are listed in the discussion).
    @Argument(parsing: .allUnrecognized, help: .hidden) var methodFlags: [String] = []

    @Option(help: "Optimizer steps.") var steps = 100
    @Option(help: "Examples per step over all ranks (each rank takes batch/ranks).") var batch = 8
    @Option(help: "Micro-batches each rank's share is split into.") var gradAccum = 1
    @Option(help: "Variable-length batches: pack each rank's examples back to back, no pad, into micro-batches of at most this many tokens (≥ --seq), attention kept inside each example; ranks balance tokens, not examples.")
    var batchTokens: Int?
    @Option(help: "Tokens per example (longer ones are cut).") var seq = 256
    @Option(help: "Peak learning rate.") var lr: Float = 2e-4
    @Option(help: "Decay after warm-up: cosine, linear or constant.") var schedule: LearningRateSchedule.Decay = .cosine
    @Option(help: "Warm-up steps.") var warmup = 0
    @Option(help: "Final learning rate as a fraction of --lr.") var minLrRatio: Float = 0
    @Option(help: "Decoupled weight decay.") var weightDecay: Float = 0
    @Option(help: "Clip the global gradient norm to this (0 = off).") var maxGradNorm: Float = 1
    @Option(help: "Seed of the adapter init, data order and split.") var seed: UInt64 = 0
    @Option(help: "All-reduce bucket size in MiB (whole layers per bucket, started during backward).") var bucketMb = TrainConfig.defaultBucketMB
    @Flag(help: "One fused all-reduce of all gradients after backward instead of overlapped buckets.") var noOverlap = false
    @Option(help: "Map one copy of the base per node, in its --base-precision, from the cache, shared by its ranks: auto (when ranks share the node), on or off.")
    var sharedBase: SharedBaseCache.Policy = .auto
    @Flag(help: "Gradient checkpointing: keep only each block's input and re-run the block's forward in backward (SmolLM2 4×128: activation buffers 377 → 116 MB, steps 44% longer; the same result).")
    var gradientCheckpointing = false

    @Flag(help: "Train on prompts and user turns too.") var trainOnPrompt = false
    @Option(help: "Render chats with this template instead of the model's own: \(ChatTemplate.names.joined(separator: ", ")).") var chatTemplate: String?
    @Flag(help: "Naive packing: short examples concatenated into full rows, attending to the ones before them (prefer --batch-tokens, which keeps them apart).") var pack = false
    @Flag(help: "Skip malformed JSONL lines (counted) instead of stopping.") var skipBadLines = false
    @Flag(help: "Train even when the start-of-run data check finds errors (empty completions, bad role order, ...).")
    var allowDataErrors = false

    @Option(help: "Evaluate every N steps (0: at the end only).") var evalEvery = 0
    @Option(help: "Checkpoint every N steps (0: at the end only).") var saveEvery = 0
    @Option(help: "Checkpoints to keep.") var keepLast = 3
    @Option(help: "Print a progress line every N steps.") var logEvery = 1
    @Option(help: "Stop after this many steps in a row with a non-finite loss or gradient (each is skipped: no update).") var maxBadSteps = 3
    @Option(help: "Abort the job when a collective waits longer than this many seconds (a rank stalled or dead).")
    var collectiveTimeout: Double = CollectiveWatchdog.defaultTimeout
    @Flag(help: "Extra checks and logs: where the first non-finite value appeared when steps go bad.") var debug = false

    @Flag(help: "Continue from OUT's latest checkpoint (starts fresh when there is none).") var resume = false
    @Option(help: "Continue from this checkpoint directory (or run directory).") var resumeFrom: String?

    @OptionGroup var communicator: CommunicatorOptions

    /// The method's flags are read while parsing, so an unknown one is a parse error (which
    /// `TrainArguments` locates in a config file).
    func validate() throws {
        do { try MethodFlagValues.parse(methodFlags).check(for: method) } catch let TinhError.invalidInput(message) {
            throw ValidationError(message)
        }
    }

    /// `tinh train` runs through `TrainArguments.expandAndRun`, which calls `run(flags:)`.
    func run() throws {
        fail("internal error: tinh train runs through TrainArguments.expandAndRun")
    }

    /// Trains; `flags` are the flags this run was given (config file merged with the command line).
    func run(flags: [String]) throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        guard collectiveTimeout > 0, collectiveTimeout.isFinite else { fail("--collective-timeout must be a positive number of seconds, got \(collectiveTimeout)", comm: comm) }
        let watched = CollectiveWatchdog(comm, timeout: collectiveTimeout)
        do {
            // Test fault injection (tests, launch/chaos): read once, here.
            let faults = try FaultPlan(environment: RunEnvironment.variables)
            let dataNotes = try DataGate.check(paths: [data] + (valid.map { [$0] } ?? []), allowErrors: allowDataErrors)
            if comm.isRoot { dataNotes.forEach { print($0) } }
            let trainer = try Trainer(config: try resolvedConfig(rank: comm.rank, faults: faults), comm: watched, gemm: RunEnvironment.frozenGEMM(),
                                      headChunkRows: RunEnvironment.headChunkRows, faults: faults)
            trainer.debug = debug
            if comm.isRoot { try saveFlags(flags, budget: trainer.writeBudget) }
            // Under mpirun, stdout is a pseudo-terminal even when redirected: print plain lines there.
            let interactive = comm.isRoot && isatty(STDOUT_FILENO) == 1 && !Communicators.launchedByMPI(environment: RunEnvironment.variables)
            var from = resumeFrom.map { URL(fileURLWithPath: $0) }
            if resume, from == nil {
                let run = URL(fileURLWithPath: out)
                if !Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: run)).isEmpty { from = run }
                else if comm.isRoot { print("--resume: no checkpoint in \(out) yet; starting from step 1") }
            }
            let stop = StopSignals.install()
            try trainer.run(resumeFrom: from, stop: stop) { event in
                if interactive, case .step = event {
                    print("\r\u{1B}[K" + event.description, terminator: "")
                    fflush(stdout)
                } else {
                    if interactive { print("") }
                    print(event.description)
                    fflush(stdout)  // a killed or preempted job still leaves its log behind
                }
            }
            if comm.isRoot { print("done: \(out)") }
        } catch let stopped as TrainingStopped {
            // Every rank agreed on the step and rank 0 wrote the checkpoint: a clean, distinct exit.
            if comm.isRoot { FileHandle.standardError.write(Data("tinh: \(stopped)\n".utf8)) }
            MPICommunicator.finalizeIfStarted()
            throw ExitCode(TrainingStopped.exitCode)
        } catch {
            fail("\(error)", comm: comm)
        }
        MPICommunicator.finalizeIfStarted()
    }

    /// OUT/config.yaml: the flags this run was given (config file merged with the command line),
    /// counted against the run's write budget (`FaultPlan.failWritesAfterBytes`).
    func saveFlags(_ flags: [String], budget: WriteBudget?) throws {
        let yaml = try ConfigFile.yaml(arguments: flags, skip: ["--config"])
        try AtomicFile.write(Data(("# tinh train flags; rerun with: tinh train --config THIS_FILE\n" + yaml).utf8),
                             to: URL(fileURLWithPath: out).appendingPathComponent("config.yaml").path, budget: budget)
    }

    func resolvedConfig(rank: Int, faults: FaultPlan = .none) throws -> TrainConfig {
        var adapter = try AdapterConfig.fromFlags(method: method, rank: self.rank, alpha: alpha, rsLoRA: rslora,
                                                  targets: try resolvedTargets(targets, model: model),
                                                  layers: try layers.map(AdapterConfig.parseLayers), seed: seed,
                                                  basePrecision: try basePrecision.map(BasePrecision.parse),
                                                  flags: try MethodFlagValues.parse(methodFlags), steps: steps)
        var c = TrainConfig(model: model, data: data, out: out, adapter: adapter)
        c.valid = valid
        c.validFraction = validFraction
        c.steps = steps; c.batch = batch; c.gradAccum = gradAccum; c.batchTokens = batchTokens; c.seq = seq
        c.lr = lr; c.schedule = schedule; c.warmup = warmup; c.minLRRatio = minLrRatio
        c.weightDecay = weightDecay; c.maxGradNorm = maxGradNorm; c.loraPlusRatio = loraplusRatio ?? c.loraPlusRatio; c.seed = seed
        c.bucketMB = bucketMb; c.overlap = !noOverlap; c.sharedBase = sharedBase
        c.gradientCheckpointing = gradientCheckpointing
        c.trainOnPrompt = trainOnPrompt; c.pack = pack; c.skipBadLines = skipBadLines; c.chatTemplate = chatTemplate
        c.evalEvery = evalEvery; c.saveEvery = saveEvery; c.keepLast = keepLast; c.logEvery = logEvery; c.maxBadSteps = maxBadSteps
        // Testing aid: TINH_TEST_RANK_SEED="RANK:SEED" gives one rank another seed, to show that
        // ranks which disagree fail at start with a clear error.
        if let seed = faults.seed(forRank: rank) {
            c.seed = seed
            adapter.seed = seed
            c.adapter = adapter
        }
        return c
    }
}
