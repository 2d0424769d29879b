import ArgumentParser
import Foundation
import Tinh

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot training loss, eval loss, learning rate and tokens/s of one or more runs into a PNG.",
        discussion: """
            Reads RUN_DIR/metrics.jsonl and RUN_DIR/eval.jsonl and calls launch/plot_runs.py with a Python that has \
            matplotlib (launch/python-env makes one in ~/.cache/tinh/venv-plot on first use).

            Examples:
              tinh plot runs/mine
              tinh plot runs/lr-1e-4 runs/lr-3e-4 --out lr.png
            """)

    @Argument(help: "Run directories (the --out of tinh train).") var runs: [String]
    @Option(help: "The PNG to write (default: RUN_DIR/curves.png for one run, curves.png for several).") var out: String?

    func run() throws {
        guard !runs.isEmpty else { fail("plot needs at least one run directory") }
        for run in runs where !FileManager.default.fileExists(atPath: URL(fileURLWithPath: run).appendingPathComponent("metrics.jsonl").path) {
            fail("\(run) has no metrics.jsonl: is it the --out of tinh train?")
        }
        let png = out ?? (runs.count == 1 ? URL(fileURLWithPath: runs[0]).appendingPathComponent("curves.png").path : "curves.png")
        guard let python = LaunchScripts.python() else { fail(LaunchScripts.noPython, code: 69) }  // EX_UNAVAILABLE
        do { try LaunchScripts.runPlot("plot_runs.py", [png] + runs, python: python) } catch { fail("\(error)") }
    }
}
