import Tinh
import Foundation

/// What became of one trial (OUT/trials/NAME/result.json).
public struct SweepResult: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case finished, stopped, failed }

    public var trial: SweepTrial
    public var status: Status
    /// Eval loss after each evaluated step (1-based step counts), from the run's eval.jsonl.
    public var evalCurve: [Int: Double]
    /// The last eval loss (the final one for a finished trial).
    public var evalLoss: Double?
    public var trainLoss: Double?
    /// For a stopped trial: the step after which the median rule stopped it.
    public var stoppedAfterStep: Int?
    public var medianAtStop: Double?
    public var seconds: Double
    public var message: String?

    /// Finished and stopped trials are done: a rerun of the sweep skips them.
    public var isDone: Bool { status != .failed }
}

/// A hyper-parameter sweep: each trial a short `tinh train` subprocess (under mpirun when the
/// command says so), trials one after another, hopeless ones stopped by the median rule, every
/// result written to OUT/trials/NAME/result.json as soon as it is known, so a rerun of the same
/// sweep skips what is done. Results: OUT/results.csv and OUT/results.md, best eval loss first.
public struct Sweep: Sendable {
    public var trials: [SweepTrial]
    public var out: URL
    /// How to start `tinh`, e.g. ["/path/tinh"] or ["launch/run", "-n", "2", "--"].
    public var command: [String]
    /// Flags every trial shares (model, data, valid, seq, targets, ...).
    public var baseArguments: [String]
    public var steps: Int
    /// Eval every this many steps: the median rule's checkpoints.
    public var evalEvery: Int
    public var microBatch: Int
    public var ranks: Int
    public var rule: MedianStoppingRule
    public var environment: [String: String] = [:]

    public enum Event: Sendable {
        case skipped(SweepTrial, SweepResult)
        case started(SweepTrial, index: Int, of: Int)
        case eval(SweepTrial, step: Int, loss: Double)
        case stopping(SweepTrial, step: Int, loss: Double, median: Double)
        case done(SweepResult)
    }

    public init(trials: [SweepTrial], out: URL, command: [String], baseArguments: [String], steps: Int, evalEvery: Int,
                microBatch: Int, ranks: Int, rule: MedianStoppingRule = MedianStoppingRule()) throws {
        guard steps > 0, evalEvery > 0 else { throw TinhError.invalidInput("sweep: --steps and --eval-every must be positive") }
        for flag in ["--out", "--steps", "--eval-every", "--lr", "--batch", "--grad-accum", "--rank", "--alpha", "--method", "--loraplus-ratio"]
            where baseArguments.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) {
            throw TinhError.invalidInput("sweep: pass \(flag) to tinh sweep itself, not after --")
        }
        for trial in trials { _ = try trial.trainArguments(microBatch: microBatch, ranks: ranks) }
        (self.trials, self.out, self.command, self.baseArguments) = (trials, out, command, baseArguments)
        (self.steps, self.evalEvery, self.microBatch, self.ranks, self.rule) = (steps, evalEvery, microBatch, ranks, rule)
    }

    func directory(_ trial: SweepTrial) -> URL { out.appendingPathComponent("trials").appendingPathComponent(trial.name) }

    public func savedResult(_ trial: SweepTrial) -> SweepResult? {
        guard let data = try? Data(contentsOf: directory(trial).appendingPathComponent("result.json")),
              let result = try? JSONDecoder().decode(SweepResult.self, from: data), result.trial == trial else { return nil }
        return result
    }

    /// Runs the trials not done yet; returns every trial's result, in plan order.
    public func run(onEvent: (Event) -> Void = { _ in }) throws -> [SweepResult] {
        try FileManager.default.createDirectory(at: out.appendingPathComponent("trials"), withIntermediateDirectories: true)
        var results: [SweepResult] = []
        for (i, trial) in trials.enumerated() {
            if let saved = savedResult(trial), saved.isDone {
                results.append(saved)
                onEvent(.skipped(trial, saved))
                continue
            }
            onEvent(.started(trial, index: i + 1, of: trials.count))
            let completed = results.filter { $0.status == .finished }.map(\.evalCurve)
            let result = try runTrial(trial, completed: completed, onEvent: onEvent)
            try AtomicFile.write(try JSONEncoder.pretty.encode(result), to: directory(trial).appendingPathComponent("result.json").path)
            results.append(result)
            onEvent(.done(result))
        }
        try writeTables(results)
        return results
    }

    func runTrial(_ trial: SweepTrial, completed: [[Int: Double]], onEvent: (Event) -> Void) throws -> SweepResult {
        let dir = directory(trial)
        let runDir = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let arguments = command + ["train"] + baseArguments + (try trial.trainArguments(microBatch: microBatch, ranks: ranks))
            + ["--steps", "\(steps)", "--eval-every", "\(evalEvery)", "--out", runDir.path, "--resume"]
        let log = dir.appendingPathComponent("train.log")
        guard FileManager.default.createFile(atPath: log.path, contents: Data("$ \(arguments.joined(separator: " "))\n".utf8)) else {
            throw TinhError.badFile(path: log.path, reason: "cannot create the trial's log")
        }
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        try logHandle.seekToEnd()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let start = Date()
        do { try process.run() } catch { throw TinhError.invalidInput("sweep: cannot start \(arguments[0]): \(error.localizedDescription)") }

        var stop: (step: Int, median: Double)?
        var pending = Data()
        var tail: [String] = []
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            try? logHandle.write(contentsOf: chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                tail = Array((tail + [line]).suffix(8))
                guard stop == nil, let (step, loss) = Self.evalLine(line) else { continue }
                onEvent(.eval(trial, step: step, loss: loss))
                let verdict = rule.shouldStop(loss: loss, step: step, completed: completed)
                if verdict.stop, step < steps, let median = verdict.median {
                    stop = (step, median)
                    onEvent(.stopping(trial, step: step, loss: loss, median: median))
                    process.terminate()  // SIGTERM: the trainer stops after the current step and exits 75
                }
            }
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let curve = Self.evalCurve(runDir)
        let summary = (try? Data(contentsOf: runDir.appendingPathComponent("summary.json")))
            .flatMap { try? JSONDecoder().decode(TrainingSummary.self, from: $0) }
        let lastEval = curve.max { $0.key < $1.key }?.value
        if let stop {
            return SweepResult(trial: trial, status: .stopped, evalCurve: curve, evalLoss: curve[stop.step] ?? lastEval, trainLoss: nil,
                               stoppedAfterStep: stop.step, medianAtStop: stop.median, seconds: seconds,
                               message: "stopped by the median rule after step \(stop.step)")
        }
        if process.terminationStatus == 0, let summary {
            return SweepResult(trial: trial, status: .finished, evalCurve: curve, evalLoss: summary.eval?.loss ?? lastEval,
                               trainLoss: summary.lastLoss, seconds: seconds)
        }
        return SweepResult(trial: trial, status: .failed, evalCurve: curve, evalLoss: lastEval, trainLoss: nil, seconds: seconds,
                           message: "exit \(process.terminationStatus): " + tail.joined(separator: " | "))
    }

    /// "eval after step 20: loss 1.2345 ..." → (20, 1.2345).
    static func evalLine(_ line: String) -> (Int, Double)? {
        guard let range = line.range(of: "eval after step ") else { return nil }
        let rest = line[range.upperBound...]
        let parts = rest.split(separator: " ", maxSplits: 3)
        guard parts.count >= 3, parts[0].hasSuffix(":"), parts[1] == "loss",
              let step = Int(parts[0].dropLast()), let loss = Double(parts[2]) else { return nil }
        return (step, loss)
    }

    /// Eval losses by 1-based step from RUN/eval.jsonl.
    static func evalCurve(_ run: URL) -> [Int: Double] {
        guard let text = try? String(contentsOf: run.appendingPathComponent("eval.jsonl"), encoding: .utf8) else { return [:] }
        var curve: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            if let record = try? JSONDecoder.snakeCase.decode(EvalRecord.self, from: Data(line.utf8)) { curve[record.step + 1] = record.loss }
        }
        return curve
    }

    public func writeTables(_ results: [SweepResult]) throws {
        let sorted = SweepTable.sorted(results)
        try AtomicFile.write(Data(SweepTable.csv(sorted, microBatch: microBatch, ranks: ranks).utf8), to: out.appendingPathComponent("results.csv").path)
        try AtomicFile.write(Data(SweepTable.markdown(sorted, microBatch: microBatch, ranks: ranks, steps: steps).utf8),
                             to: out.appendingPathComponent("results.md").path)
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder { let d = JSONDecoder(); d.keyDecodingStrategy = .convertFromSnakeCase; return d }
}

/// The sweep's results as CSV and Markdown: finished trials by eval loss, then stopped, then failed.
public enum SweepTable {
    public static func sorted(_ results: [SweepResult]) -> [SweepResult] {
        func order(_ s: SweepResult.Status) -> Int { s == .finished ? 0 : s == .stopped ? 1 : 2 }
        return results.sorted {
            (order($0.status), $0.evalLoss ?? .infinity, $0.trial.name) < (order($1.status), $1.evalLoss ?? .infinity, $1.trial.name)
        }
    }

    static func number(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "" }

    public static func csv(_ results: [SweepResult], microBatch: Int, ranks: Int) -> String {
        var lines = ["name,status,method,lr,batch,grad_accum,rank,alpha,loraplus_ratio,eval_loss,train_loss,stopped_after_step,seconds"]
        for r in results {
            let t = r.trial
            lines.append([t.name, r.status.rawValue, t.method, "\(t.lr)", "\(t.batch)", "\(t.batch / ranks / microBatch)", "\(t.rank)",
                          "\(t.alpha)", "\(t.loraPlusRatio)", number(r.evalLoss), number(r.trainLoss),
                          r.stoppedAfterStep.map(String.init) ?? "", String(format: "%.1f", r.seconds)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func markdown(_ results: [SweepResult], microBatch: Int, ranks: Int, steps: Int) -> String {
        var lines = ["| # | method | lr | batch (accum) | rank | α | LoRA+ ratio | eval loss | train loss | status | s |",
                     "|---|---|---|---|---|---|---|---|---|---|---|"]
        for (i, r) in results.enumerated() {
            let t = r.trial
            let status = r.status == .stopped ? "stopped after \(r.stoppedAfterStep ?? 0)/\(steps)" : r.status.rawValue
            lines.append("| \(i + 1) | \(t.method) | \(t.lr) | \(t.batch) (\(t.batch / ranks / microBatch)) | \(t.rank) | \(t.alpha) | \(t.loraPlusRatio) | "
                         + "\(number(r.evalLoss)) | \(number(r.trainLoss)) | \(status) | \(String(format: "%.0f", r.seconds)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
