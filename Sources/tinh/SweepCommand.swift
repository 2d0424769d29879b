import ArgumentParser
import Foundation
import Tinh
import TinhTools

extension SweepPlan.Search: ExpressibleByArgument {}

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Grid or random search over lr, batch, rank, α, method and LoRA+ ratio; each trial a short tinh train.",
        discussion: """
            Each trial runs `tinh train` (under launch/run -n N with --np N) with --steps and --eval-every set here, \
            the batch reached by gradient accumulation over --micro-batch examples per rank, and the flags after `--`. \
            The median rule stops a trial whose eval loss after step k is above the median of the finished trials' \
            losses after step k (once --min-trials have finished). Results go to OUT/results.csv and OUT/results.md, \
            best eval loss first, and OUT/loss_vs_lr.png; each trial's log and run to OUT/trials/NAME/. \
            Rerunning the same command skips the trials already finished or stopped.

            Examples:
              tinh sweep --out runs/sweep --lr 1e-4,3e-4,1e-3 --batch 8,16 \\
                --steps 60 --eval-every 20 \\
                -- --model smollm2 --data train.jsonl --valid valid.jsonl --seq 128
              tinh sweep --out runs/sweep2 --search random --trials 8 \\
                --lr 1e-4,2e-4,5e-4,1e-3 --rank 4,8,16 --method lora,dora --np 2 \\
                -- --model smollm2 --data train.jsonl --valid valid.jsonl
            """)

    @Option(help: "Sweep directory (results, trials).") var out: String
    @Option(help: "Learning rates, comma-separated.") var lr = "2e-4"
    @Option(help: "Global batch sizes, comma-separated (reached by gradient accumulation).") var batch = "8"
    @Option(help: "Adapter ranks, comma-separated.") var rank = "8"
    @Option(help: "Adapter α values, comma-separated.") var alpha = "16"
    @Option(help: "Adapter methods, comma-separated.") var method = MethodID.lora.name
    @Option(help: "LoRA+ ratios (B's lr over A's), comma-separated.") var loraplusRatio = "1"
    @Option(help: "grid: every combination; random: --trials distinct combinations drawn with --seed.") var search: SweepPlan.Search = .grid
    @Option(help: "Trials for --search random.") var trials: Int?
    @Option(help: "Seed of the random search.") var seed: UInt64 = 0
    @Option(help: "Optimizer steps per trial.") var steps = 60
    @Option(help: "Evaluate every N steps: the points where the median rule may stop a trial.") var evalEvery = 20
    @Option(help: "Examples per forward pass on each rank.") var microBatch = 4
    @Option(help: "Finished trials needed before the median rule stops anything.") var minTrials = 2
    @Option(help: "Ranks per trial (runs launch/run -n N).") var np = 1
    @Flag(help: "Do not draw the PNG.") var noPlot = false
    @Argument(parsing: .postTerminator, help: "tinh train flags every trial shares, after --.") var trainArguments: [String] = []

    func run() throws {
        do {
            let space = SweepSpace(lr: try list(lr, "lr"), batch: try list(batch, "batch"), rank: try list(rank, "rank"),
                                   alpha: try list(alpha, "alpha"), method: method.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                   loraPlusRatio: try list(loraplusRatio, "loraplus-ratio"))
            let planned = try SweepPlan.trials(space, search: search, count: trials, seed: seed)
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            var command = [me]
            if np > 1 { command = [try LaunchScripts.script("run"), "-n", "\(np)", "--"] }
            var sweep = try Sweep(trials: planned, out: URL(fileURLWithPath: out, isDirectory: true), command: command,
                                  baseArguments: trainArguments, steps: steps, evalEvery: evalEvery, microBatch: microBatch,
                                  ranks: np, rule: MedianStoppingRule(minTrials: minTrials))
            sweep.environment["TINH_BIN"] = me
            print("sweep: \(planned.count) trial(s) (\(search.rawValue) over a space of \(space.gridSize)), \(steps) steps each, eval every \(evalEvery)")
            let results = try sweep.run { event in
                switch event {
                case .skipped(let t, let r): print("[\(t.name)] already \(r.status.rawValue) (eval loss \(r.evalLoss.map { String(format: "%.4f", $0) } ?? "-")), skipped")
                case .started(let t, let i, let n): print("[\(t.name)] trial \(i)/\(n) starting")
                case .eval(let t, let step, let loss): print("[\(t.name)] eval after step \(step): loss \(String(format: "%.4f", loss))")
                case .stopping(let t, let step, let loss, let median):
                    print("[\(t.name)] stopping: eval loss \(String(format: "%.4f", loss)) after step \(step) is above the median \(String(format: "%.4f", median)) of finished trials")
                case .done(let r): print("[\(r.trial.name)] \(r.status.rawValue)\(r.message.map { ": " + $0 } ?? "") in \(String(format: "%.1f", r.seconds)) s")
                }
                fflush(stdout)
            }
            print("\n" + SweepTable.markdown(SweepTable.sorted(results), microBatch: microBatch, ranks: np, steps: steps))
            print("results: \(out)/results.csv, \(out)/results.md")
            if !noPlot { plot() }
        } catch { fail("\(error)") }
    }

    func plot() {
        guard let python = LaunchScripts.python() else { return print("no plot: " + LaunchScripts.noPython) }
        let png = URL(fileURLWithPath: out).appendingPathComponent("loss_vs_lr.png").path
        do { try LaunchScripts.runPlot("plot_sweep.py", [URL(fileURLWithPath: out).appendingPathComponent("results.csv").path, png], python: python) }
        catch { print("no plot: \(error)") }
    }

    func list<T: LosslessStringConvertible>(_ text: String, _ name: String) throws -> [T] {
        try text.split(separator: ",").map { part in
            let s = part.trimmingCharacters(in: .whitespaces)
            guard let v = T(s) else { throw TinhError.invalidInput("--\(name): '\(s)' is not a valid value") }
            return v
        }
    }
}
