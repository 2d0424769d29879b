import ArgumentParser
import Foundation
import Tinh

struct GEMMBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm-bench",
        abstract: "OpenBLAS sgemm vs oneDNN bf16 GFLOP/s on SmolLM2's frozen-weight products (y = x·Wᵀ), in one process.")

    @Option(help: "BLAS and oneDNN threads.") var threads = 1
    @Option(help: "Seconds per kernel and shape.") var seconds = 1.0
    @Option(help: "Rows of x (tokens per step).") var rows = 512
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        guard threads > 0, seconds > 0, rows > 0 else { fail("--threads, --seconds and --rows must be positive") }
        do { try BF16GEMM.requireSupport() } catch { fail("\(error)") }
        BLAS.threads = threads
        let shapes = GEMMComparison.smolLM2Shapes.map { (m: rows, k: $0.k, n: $0.n) }
        let result = GEMMComparison.run(shapes: shapes, seconds: seconds)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("oneDNN \(BF16GEMM.oneDNNVersion), ISA \(BF16GEMM.isa); OpenBLAS \(BLAS.coreName); \(threads) thread(s)")
        print("M×K×N              sgemm GFLOP/s  bf16 GFLOP/s  bf16+rounding x  speed-up  oneDNN kernel")
        for r in result {
            let shape = "\(r.m)×\(r.k)×\(r.n)".padding(toLength: 18, withPad: " ", startingAt: 0)
            print(shape + String(format: " %13.1f %13.1f %16.1f %8.2f×  ", r.sgemmGFLOPs, r.bf16GFLOPs, r.bf16WithRoundingGFLOPs,
                                 r.bf16WithRoundingGFLOPs / r.sgemmGFLOPs) + r.implementation)
        }
    }
}
