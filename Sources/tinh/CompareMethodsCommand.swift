import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct CompareMethodsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-methods",
        abstract: "Train several adapter methods on the same data, seed and token budget; write a table and eval curves.",
        discussion: """
            Writes OUT/methods.csv, OUT/methods.md, OUT/eval_curves.csv and each run under OUT/runs/METHOD. launch/compare-methods also plots the curves.

            Example:
              tinh compare-methods --model smollm2 --data train.jsonl \\
                --valid valid.jsonl --out runs/compare --methods lora,dora
            """)

    @Option(help: "A .gguf file, a Hugging Face directory, smollm2 or tiny[:seed].") var model: String
    @Option(help: "Training data (JSONL).") var data: String
    @Option(help: "Held-out data (JSONL); chat records are also scored by exact match unless --no-exact-match.") var valid: String
    @Option(help: "Output directory.") var out: String
    @Option(help: "Comma-separated methods (pissa: LoRA with --init pissa), or all (every --method).") var methods = "all"
    @Option(help: "Optimizer steps per method.") var steps = 60
    @Option(help: "Global batch.") var batch = 8
    @Option(help: "Tokens per example.") var seq = 64
    @Option(help: "Peak learning rate (VeRA uses 5×).") var lr: Float = 2e-3
    @Option(help: "Adapter rank (VeRA uses at least 256).") var rank = 8
    @Option(help: "Adapter α.") var alpha: Float = 16
    @Option(help: "Projections to adapt. Default: q,v, or qkv on a model with fused projections (Phi-3).") var targets: String?
    @Option(help: "Seed of inits, data order and split.") var seed: UInt64 = 0
    @Option(help: "Evaluate every N steps (the curves' resolution).") var evalEvery = 10
    @Flag(help: "Skip scoring held-out chats by generation.") var noExactMatch = false
    @OptionGroup var communicator: CommunicatorOptions

    func run() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        do {
            var base = TrainConfig(model: model, data: data, out: out,
                                   adapter: AdapterConfig(rank: rank, alpha: alpha, targets: try resolvedTargets(targets, model: model), seed: seed))
            base.valid = valid
            base.steps = steps; base.batch = batch; base.seq = seq; base.lr = lr; base.seed = seed
            base.warmup = min(5, steps / 10); base.evalEvery = evalEvery; base.logEvery = max(1, steps / 6)
            let list = methods == "all" ? MethodComparison.allMethods : methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let (rows, points) = try MethodComparison.run(base: base, methods: list, comm: comm, gemm: RunEnvironment.frozenGEMM(),
                                                          headChunkRows: RunEnvironment.headChunkRows, exactMatchOn: noExactMatch ? nil : valid) { method, event in
                if comm.isRoot { print("[\(method)] \(event.description)"); fflush(stdout) }
            }
            if comm.isRoot {
                let dir = URL(fileURLWithPath: out)
                try AtomicFile.write(Data(MethodComparison.csv(rows).utf8), to: dir.appendingPathComponent("methods.csv").path)
                try AtomicFile.write(Data(MethodComparison.curvesCSV(points).utf8), to: dir.appendingPathComponent("eval_curves.csv").path)
                let table = MethodComparison.markdown(rows, world: comm.size)
                try AtomicFile.write(Data(table.utf8), to: dir.appendingPathComponent("methods.md").path)
                print("\n" + table)
            }
        } catch {
            fail("\(error)", comm: comm)
        }
        MPICommunicator.finalizeIfStarted()
    }
}
