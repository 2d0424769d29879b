import Foundation

/// OUT/metrics.jsonl (one `StepMetrics` per step) and OUT/eval.jsonl (one `EvalRecord` per
/// evaluation), open for appending while rank 0 trains.
final class MetricsLog {
    static let metricsFile = "metrics.jsonl"
    static let evalFile = "eval.jsonl"

    let directory: URL
    private var metrics: FileHandle?
    private var eval: FileHandle?

    /// Opens both files, first dropping lines of steps at or after `firstStep` (the rewrite counts
    /// against `budget`, if any).
    init(directory: URL, keepingStepsBefore firstStep: Int, budget: WriteBudget?) throws {
        self.directory = directory
        metrics = try Self.open(directory.appendingPathComponent(Self.metricsFile), keepingStepsBefore: firstStep, budget: budget)
        eval = try Self.open(directory.appendingPathComponent(Self.evalFile), keepingStepsBefore: firstStep, budget: budget)
    }

    deinit { close() }

    func append(_ m: StepMetrics) throws { try append(m, to: metrics, name: Self.metricsFile) }

    func append(_ e: EvalRecord) throws { try append(e, to: eval, name: Self.evalFile) }

    func close() {
        try? metrics?.close(); metrics = nil
        try? eval?.close(); eval = nil
    }

    /// Opens `url` for appending, first dropping lines of steps at or after `firstStep`
    /// (a resumed run recomputes them).
    private static func open(_ url: URL, keepingStepsBefore firstStep: Int, budget: WriteBudget?) throws -> FileHandle {
        let old = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let kept = old.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = object["step"] as? Int else { return false }
            return s < firstStep
        }
        try AtomicFile.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: url.path, budget: budget)
        do {
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            return handle
        } catch {
            throw TinhError.badFile(path: url.path, reason: "cannot open for appending: \(error.localizedDescription)")
        }
    }

    private func append<T: Encodable>(_ value: T, to file: FileHandle?, name: String) throws {
        var line = try JSONEncoder.compact.encode(value)
        line.append(0x0A)
        do { try file?.write(contentsOf: line) } catch {
            throw TinhError.badFile(path: directory.appendingPathComponent(name).path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
