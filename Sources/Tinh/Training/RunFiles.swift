import Foundation

/// A run's output directory (--out) and the files rank 0 writes there beside the checkpoints:
/// config.json, metrics.jsonl and eval.jsonl (`MetricsLog`), summary.json. Every atomic write
/// counts against the run's `budget` (`FaultPlan.failWritesAfterBytes`), if any.
struct RunFiles {
    let directory: URL
    let budget: WriteBudget?

    /// Creates the directory and checks that it is writable.
    func prepare() throws {
        let dir = directory
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw TinhError.invalidInput("cannot create --out \(dir.path): \(error.localizedDescription)")
        }
        let probe = dir.appendingPathComponent(".tinh-write-test-\(getpid())")
        guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
            throw TinhError.invalidInput("--out \(dir.path) is not writable")
        }
        try? FileManager.default.removeItem(at: probe)
    }

    /// OUT/config.json: every resolved setting of the run.
    func writeConfig(_ config: TrainConfig) throws {
        try AtomicFile.write(try JSONEncoder.pretty.encode(config), to: directory.appendingPathComponent("config.json").path, budget: budget)
    }

    /// OUT/summary.json.
    func writeSummary(_ summary: TrainingSummary) throws {
        try AtomicFile.write(try JSONEncoder.pretty.encode(summary), to: directory.appendingPathComponent("summary.json").path, budget: budget)
    }

    /// OUT/metrics.jsonl and OUT/eval.jsonl opened for appending, without the lines of steps at
    /// or after `firstStep` (a resumed run recomputes them).
    func openLogs(keepingStepsBefore firstStep: Int) throws -> MetricsLog {
        try MetricsLog(directory: directory, keepingStepsBefore: firstStep, budget: budget)
    }

    /// Where the checkpoint after `step` steps is.
    func checkpoint(step: Int) -> URL {
        Checkpoints.checkpointsDirectory(run: directory).appendingPathComponent(Checkpoints.directoryName(step: step))
    }
}

extension Trainer {
    /// The run's allowance for atomic writes (`FaultPlan.failWritesAfterBytes`), for files the
    /// caller writes into OUT itself (`tinh train`'s config.yaml); nil without one.
    public var writeBudget: WriteBudget? { files.budget }
}
