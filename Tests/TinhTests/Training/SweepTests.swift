import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// `tinh sweep`: planning, the median rule, resuming without rerunning finished trials, and plots.
@Suite struct SweepTests {
    let space = SweepSpace(lr: [1e-4, 1e-3], batch: [4, 8], rank: [4, 8], alpha: [16], method: ["lora", "dora"], loraPlusRatio: [1])

    @Test func gridIsEveryCombinationAndRandomIsSeeded() throws {
        let grid = try SweepPlan.trials(space, search: .grid)
        #expect(grid.count == 16 && Set(grid).count == 16 && Set(grid.map(\.name)).count == 16)
        let a = try SweepPlan.trials(space, search: .random, count: 5, seed: 7)
        #expect(a == (try SweepPlan.trials(space, search: .random, count: 5, seed: 7)))
        #expect(a.count == 5 && Set(a).count == 5 && Set(a).isSubset(of: Set(grid)))
        #expect(a != (try SweepPlan.trials(space, search: .random, count: 5, seed: 8)))
        #expect(try SweepPlan.trials(space, search: .random, count: 100).count == 16)
        #expect(throws: TinhError.self) { try SweepPlan.trials(space, search: .random) }
        // Batch by accumulation: 8 over 2 ranks of micro-batch 2 is 2 passes each.
        let t = SweepTrial(lr: 1e-3, batch: 8, rank: 4, alpha: 16, method: "lora", loraPlusRatio: 1)
        let args = try t.trainArguments(microBatch: 2, ranks: 2)
        #expect(args[args.firstIndex(of: "--grad-accum")! + 1] == "2")
        #expect(throws: TinhError.self) { try t.trainArguments(microBatch: 3, ranks: 1) }
    }

    @Test func medianRule() {
        let rule = MedianStoppingRule(minTrials: 2)
        let done: [[Int: Double]] = [[10: 2.0, 20: 1.5], [10: 3.0, 20: 1.7], [10: 2.5]]
        #expect(rule.shouldStop(loss: 2.6, step: 10, completed: done) == (true, 2.5))
        #expect(rule.shouldStop(loss: 2.4, step: 10, completed: done) == (false, 2.5))
        #expect(rule.shouldStop(loss: 1.61, step: 20, completed: done) == (true, 1.6))  // even count: mean of the middle two
        #expect(rule.shouldStop(loss: 9, step: 30, completed: done).stop == false)       // no trial reached step 30
        #expect(rule.shouldStop(loss: 9, step: 10, completed: Array(done.prefix(1))).stop == false)  // too few trials
        #expect(rule.shouldStop(loss: .nan, step: 10, completed: done).stop)
        #expect(Sweep.evalLine("eval after step 20: loss 1.2345  perplexity 3.437  accuracy 50.00% (10 tokens)")! == (20, 1.2345))
        #expect(Sweep.evalLine("step 20/60  loss 1.2") == nil)
    }

    static func demoData() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-sweep-data-\(UUID().uuidString)")
        _ = try DemoTask.write(to: dir, trainCount: 40, validCount: 6, seed: 1)
        return dir
    }

    func sweep(_ out: String, lrs: String, data: URL) throws -> TestProcess.Result {
        try TestProcess.run([TestProcess.tinh, "sweep", "--out", out, "--lr", lrs, "--batch", "4", "--steps", "4", "--eval-every", "2",
                             "--micro-batch", "2", "--no-plot", "--",
                             "--model", "tiny", "--data", data.appendingPathComponent("train.jsonl").path,
                             "--valid", data.appendingPathComponent("valid.jsonl").path, "--seq", "64"], timeout: 240)
    }

    @Test func resumesWithoutRerunningFinishedTrials() throws {
        let data = try Self.demoData()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-sweep-\(UUID().uuidString)").path
        // Highest lr first: on the tiny model it learns fastest, so the median rule has a bar to hold the slow one to.
        let first = try sweep(out, lrs: "1e-2,3e-3", data: data)
        #expect(first.status == 0, "\(first.output)")
        let trials = URL(fileURLWithPath: out).appendingPathComponent("trials")
        let names = try FileManager.default.contentsOfDirectory(atPath: trials.path).sorted()
        #expect(names == ["lora_lr0.003_b4_r8_a16_lp1", "lora_lr0.01_b4_r8_a16_lp1"])
        func stamp(_ name: String) throws -> Date {
            try FileManager.default.attributesOfItem(atPath: trials.appendingPathComponent(name).appendingPathComponent("result.json").path)[.modificationDate] as! Date
        }
        let stamps = try names.map(stamp)

        // Rerun with one more lr: the two done are skipped (their results untouched), only the new one trains.
        let second = try sweep(out, lrs: "1e-2,3e-3,1e-5", data: data)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.components(separatedBy: "already finished").count - 1 == 2, "\(second.output)")
        #expect(second.output.components(separatedBy: "starting").count - 1 == 1, "\(second.output)")
        #expect(try names.map(stamp) == stamps)
        // lr 1e-5 barely moves: worse than the median of the two finished trials after step 2, so it is stopped there.
        let slow = try JSONDecoder().decode(SweepResult.self, from: Data(contentsOf: trials.appendingPathComponent("lora_lr1e-05_b4_r8_a16_lp1/result.json")))
        #expect(slow.status == .stopped && slow.stoppedAfterStep == 2, "\(second.output)")

        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 4)
        #expect(csv[1].hasPrefix("lora_lr0.01_b4_r8_a16_lp1,finished") && csv[3].hasPrefix("lora_lr1e-05_b4_r8_a16_lp1,stopped"), "\(csv)")
        let losses = csv.dropFirst().prefix(2).map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[9])! }
        #expect(losses[0] <= losses[1])
        #expect(try String(contentsOfFile: out + "/results.md", encoding: .utf8).contains("stopped after 2/4"))

        // A third run does nothing at all.
        let third = try sweep(out, lrs: "1e-2,3e-3,1e-5", data: data)
        #expect(!third.output.contains("starting") && third.output.contains("already stopped"), "\(third.output)")

        // Plots: the sweep's loss-vs-lr and two runs' curves are PNGs.
        let png = out + "/loss_vs_lr.png"
        let runs = names.map { trials.appendingPathComponent($0).appendingPathComponent("run").path }
        let plot = try TestProcess.run([TestProcess.tinh, "plot"] + runs + ["--out", out + "/curves.png"], timeout: 300)
        if plot.status == 69 {
            print("skipping the PNG checks: \(plot.output)")  // no matplotlib and no pip here
            return
        }
        #expect(plot.status == 0, "\(plot.output)")
        let python = try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/python-env").path], timeout: 300)
        let plotSweep = try TestProcess.run([python.output.split(separator: "\n").last.map(String.init) ?? "python3",
                                             TestProcess.packageRoot.appendingPathComponent("launch/plot_sweep.py").path,
                                             out + "/results.csv", png], timeout: 120)
        #expect(plotSweep.status == 0, "\(plotSweep.output)")
        for file in [out + "/curves.png", png] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.count > 1000 && Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(file)")
        }
    }
}
