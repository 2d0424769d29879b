import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct GEMMBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm-bench",
        abstract: "OpenBLAS sgemm vs oneDNN bf16 GFLOP/s on SmolLM2's frozen-weight products (y = x·Wᵀ), in one process.")

    @Option(help: "BLAS and oneDNN threads.") var threads = 1
    @Option(help: "Seconds per shape (the kernels take turns).") var seconds = 3.0
    @Option(help: "Rows of x (tokens per step).") var rows = 512
    @Option(help: "Also time LoRA training steps (forward + backward) of this model with an f32 and a bf16 base, alternating in this process.")
    var model: String?
    @Option(help: "With --model: timed steps per precision (after one warm-up step each).") var steps = 5
    @Option(help: "With --model: sequences per step.") var batch = 4
    @Option(help: "With --model: tokens per sequence.") var seq = 128
    @Option(help: "With --model: LoRA targets (default: q,v, or qkv on fused projections).") var targets: String?
    @Option(help: "With --model: LoRA rank.") var rank = 8
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        guard threads > 0, seconds > 0, rows > 0 else { fail("--threads, --seconds and --rows must be positive") }
        do { try BF16GEMM.requireSupport() } catch { fail("\(error)") }
        BLAS.threads = threads
        let shapes = GEMMComparison.smolLM2Shapes.map { (m: rows, k: $0.k, n: $0.n) }
        let result = GEMMComparison.run(shapes: shapes, seconds: seconds)
        var steps: [BasePrecisionBenchmark.Row] = []
        var adapted: [String] = []
        if let model {
            guard self.steps > 0, batch > 0, seq > 1, rank > 0 else { fail("--steps, --batch, --rank must be positive and --seq above 1") }
            do {
                adapted = try resolvedTargets(targets, model: model)
                let adapter = AdapterConfig(method: .lora, rank: rank, alpha: Float(2 * rank), targets: adapted)
                steps = try BasePrecisionBenchmark.run(spec: model, adapter: adapter, batch: batch, seq: seq, iterations: self.steps,
                                                           gemm: RunEnvironment.frozenGEMM(), headChunkRows: RunEnvironment.headChunkRows)
            } catch { fail("\(error)") }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(GEMMBenchJSON(gemm: result, steps: steps)), as: UTF8.self))
            return
        }
        print("oneDNN \(BF16GEMM.oneDNNVersion), ISA \(BF16GEMM.isa); OpenBLAS \(BLAS.coreName); \(threads) thread(s)")
        print("M×K×N              sgemm GFLOP/s  bf16 GFLOP/s  bf16+rounding x  speed-up  oneDNN kernel")
        for r in result {
            let shape = "\(r.m)×\(r.k)×\(r.n)".padding(toLength: 18, withPad: " ", startingAt: 0)
            print(shape + String(format: " %13.1f %13.1f %16.1f %8.2f×  ", r.sgemmGFLOPS, r.bf16GFLOPS, r.bf16WithRoundingGFLOPS,
                                 r.bf16WithRoundingGFLOPS / r.sgemmGFLOPS) + r.implementation)
        }
        guard let model, let f32 = steps.first else { return }
        print("\nLoRA r\(rank) on \(adapted.joined(separator: ",")), \(model), batch \(batch) × \(seq), forward + backward, \(self.steps) steps each, alternating:")
        for r in steps {
            print(String(format: "  %@ base: %.1f tokens/s (median step %.0f ms, spread %.0f ms), %.2f× f32",
                         r.precision, r.tokensPerSecond, r.stepSeconds * 1000, r.spreadSeconds * 1000, r.tokensPerSecond / f32.tokensPerSecond))
        }
    }
}

struct GEMMBenchJSON: Encodable {
    var gemm: [GEMMComparison.Row]
    var steps: [BasePrecisionBenchmark.Row]
}
