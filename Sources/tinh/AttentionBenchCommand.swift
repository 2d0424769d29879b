import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct AttentionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention-bench",
        abstract: "The attention core's forward + backward: the blocked GEMM kernel against the fused flash kernel per instruction set, in one process.")

    @Option(help: "Example lengths in tokens, comma-separated (one example per row, or all in one row with --packed).")
    var lengths = "128,128,128,128"
    @Flag(help: "Pack all examples into one row (varlen), attention inside each.") var packed = false
    @Option(help: "Query heads (SmolLM2: 9).") var heads = 9
    @Option(help: "KV heads (SmolLM2: 3).") var kvHeads = 3
    @Option(help: "Head dimension (SmolLM2: 64).") var headDim = 64
    @Option(help: "Threads (BLAS threads for the blocked kernel, workers for the flash kernel).") var threads = 1
    @Option(help: "Seconds in all (the kernels take turns).") var seconds = 3.0
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        let lens = lengths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !lens.isEmpty, lens.count == lengths.split(separator: ",").count, lens.allSatisfy({ $0 > 0 }) else {
            fail("--lengths must be positive integers separated by commas")
        }
        guard packed || Set(lens).count == 1 else { fail("without --packed every example has one length (one per row)") }
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, headDim > 0, threads > 0, seconds > 0 else {
            fail("--heads must be a positive multiple of --kv-heads; --head-dim, --threads and --seconds positive")
        }
        BLAS.threads = threads
        let rows = AttentionBenchmark.run(lengths: lens, packed: packed, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                          threads: threads, seconds: seconds)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("CPU: \(CPUDescription.current().summary)")
        print("heads \(heads)/\(kvHeads), head dim \(headDim), examples \(lengths)\(packed ? " packed in one row" : ""), \(threads) thread(s)")
        print("kernel            ms (fwd+bwd)  GFLOP/s  vs blocked")
        for r in rows {
            print(r.kernel.padding(toLength: 17, withPad: " ", startingAt: 0)
                  + String(format: " %12.2f %8.1f %9.2f×", r.seconds * 1000, r.gflops, r.speedup))
        }
    }
}
