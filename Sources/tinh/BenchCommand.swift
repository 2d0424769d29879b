import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps: tokens/s, FLOPs per token, % of an in-process sgemm probe, time per phase, peak RSS.",
        discussion: """
            Runs the trainer's own step (forward, backward, all-reduce, AdamW) on synthetic rows or a JSONL file after \
            --warmup steps. Under mpirun (launch/run -np N) every process is one rank; rank 0 prints \
            each rank's numbers and the job's totals. Use a release build and OPENBLAS_NUM_THREADS=1.
            """)

    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 or tiny[:seed].") var model: String
    @Option(help: "Fine-tuning method (as in train; its own flags take their defaults).") var method: MethodID = .lora
    @Option(help: "How the frozen base's projection weights are held: f32, nf4, q8, q4, bf16 or int8 (as in train).")
    var basePrecision: String?
    @Option(help: "Adapter rank r.") var rank = 8
    @Option(help: "Adapter scale numerator α.") var alpha: Float = 16
    @Option(help: "Projections to adapt: any of q,k,v,o,gate,up,down. Default: q,v, or qkv on a model with fused projections (Phi-3).") var targets: String?
    @Option(help: "Sequences per rank per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 128
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed steps first.") var warmup = 1
    @Option(help: "BLAS threads per rank (default: OpenBLAS's, i.e. OPENBLAS_NUM_THREADS; launch/run sets it).") var threads: Int?
    @Option(help: ArgumentHelp("text: synthetic rows, every position in the loss; chat: synthetic prompt-masked rows (about half the positions in the loss); "
                               + "or a JSONL file, whose examples (at most --seq tokens each) train as in tinh train, --batch per rank per step.",
                               valueName: "text|chat|FILE.jsonl"))
    var data = "text"
    @Option(help: "With a data file: varlen micro-batches of at most this many tokens, no pad (as in train). Default: rows padded to --seq.")
    var batchTokens: Int?
    @Option(help: ArgumentHelp("Write each rank's examples of every step to DIR/rank-R.json (what bench/peft_baseline.py --batches replays).", valueName: "DIR"))
    var batchesOut: String?
    @Option(help: "Seconds spent on the sgemm probe.") var probeSeconds = 1.0
    @Flag(help: "Gradient checkpointing (as in train).") var gradientCheckpointing = false
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Also time each frozen-weight GEMM shape of the step alone (GFLOP/s per shape).") var shapes = false
    @OptionGroup var communicator: CommunicatorOptions

    func run() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        do {
            var options = TrainingBenchmark.Options(
                model: model,
                adapter: AdapterConfig(method: method, rank: rank, alpha: alpha,
                                       targets: try resolvedTargets(targets, model: model),
                                       basePrecision: try basePrecision.map(BasePrecision.parse)))
            options.batch = batch; options.seq = seq; options.steps = steps; options.warmup = warmup
            options.threads = threads; options.probeSeconds = probeSeconds
            if let kind = TrainingBenchmark.DataKind(rawValue: data) {
                options.data = kind
                guard batchTokens == nil else { throw TinhError.invalidInput("--batch-tokens needs --data FILE.jsonl (synthetic rows are full, with no pad to remove)") }
            } else {
                guard FileManager.default.fileExists(atPath: data) else {
                    throw TinhError.invalidInput("--data \(data): no such file (give text, chat or a JSONL file)")
                }
                options.dataFile = data
            }
            options.batchTokens = batchTokens; options.batchesOut = batchesOut
            options.gradientCheckpointing = gradientCheckpointing
            options.frozenGEMM = RunEnvironment.frozenGEMM(blasThreads: threads ?? BLAS.threads)
            options.headChunkRows = RunEnvironment.headChunkRows
            let result = try TrainingBenchmark.run(options, comm: comm)
            if shapes, comm.isRoot, !json {
                let loaded = try ModelSource.load(model)
                for r in TrainingBenchmark.shapeRates(config: loaded.config, rows: batch * seq) {
                    print(r.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                          + String(format: "%5d×%5d×%5d  %6.1f GFLOP/s", r.m, r.n, r.k, r.gflops))
                }
            }
            if comm.isRoot {
                if json { printJSON(result) } else { print(result.summary) }
            }
        } catch {
            fail("\(error)", comm: comm)
        }
        MPICommunicator.finalizeIfStarted()
    }
}
