import Foundation

/// One optimizer step as rank 0 logs it (a line of OUT/metrics.jsonl).
public struct StepMetrics: Codable, Sendable {
    public var step: Int
    public var loss: Double
    public var lr: Float
    public var gradNorm: Double
    /// Tokens whose loss counted, over all ranks.
    public var lossTokens: Int
    /// Input positions processed (batch × seq over all ranks, padding included).
    public var tokens: Int
    public var tokensPerSecond: Double
    public var seconds: Double
    public var forwardSeconds: Double
    public var backwardSeconds: Double
    /// Time inside communication calls (starts, progress tests, waits) for the step's all-reduces.
    public var allreduceSeconds: Double
    /// Forward and backward without the communication calls made from inside backward.
    public var computeSeconds: Double
    /// Communication not hidden behind backward: from the end of backward until the sums are in.
    public var exposedCommSeconds: Double
    public var optimizerSeconds: Double
    public var peakRssMegabytes: Double
    public var world: Int
    /// True when the step's loss or gradient was not finite and no update was made.
    public var skipped: Bool
    /// The step's FLOPs per second over the FMA peak of every core of the job (`MFUMeter`); nil in
    /// metrics written before it was logged.
    public var mfu: Double?
    /// Input positions with a real token (not pad) over all ranks, and their rate; nil in records
    /// written before these were logged.
    public var realTokens: Int?
    public var realTokensPerSecond: Double?
    /// Share of the computed positions that are pad: 0 with `--batch-tokens`.
    public var padShare: Double?
}

/// One evaluation on the held-out set (a line of OUT/eval.jsonl); `step` is 0-based like StepMetrics'.
public struct EvalRecord: Codable, Sendable {
    public var step: Int
    public var loss: Double
    public var perplexity: Double
    public var accuracy: Double
    public var tokens: Int

    public init(step: Int, result: EvalResult) {
        self.step = step
        loss = result.loss
        perplexity = result.perplexity
        accuracy = result.accuracy
        tokens = result.tokens
    }
}

/// The end of a run, as the last line of its log.
public struct TrainingSummary: Codable, Sendable {
    public var method: String
    public var steps: Int
    public var seconds: Double
    public var medianTokensPerSecond: Double
    public var lastLoss: Double
    public var eval: EvalResult?
    public var peakRssMegabytes: Double
    public var trainableParameters: Int
    /// The flat gradient buffer plus the loss and token count, per optimizer step.
    public var bytesAllReducedPerStep: Int
    public var world: Int
    /// Medians over the run's steps (see `StepMetrics`), and how the gradients were reduced.
    public var medianComputeSeconds: Double
    public var medianAllreduceSeconds: Double
    public var medianExposedCommSeconds: Double
    public var overlap: Bool
    public var buckets: Int
    /// Proportional set size of each rank after the first step (MiB), and the part of it that is
    /// the mapped shared base file (0 when each rank holds its own base).
    public var pssMegabytesPerRank: [Double]
    public var basePssMegabytesPerRank: [Double]
    /// The base weights in f32, and whether the node's ranks share one copy of them.
    public var baseMegabytes: Double
    public var sharedBase: Bool
    /// Set when the run's collectives carried a SIMULATED delay (TINH_SIMULATED_LATENCY_MS), in ms.
    public var simulatedLatencyMs: Double? = nil
}

/// What the trainer reports as it goes (on rank 0), for the CLI to print.
public enum TrainingEvent: CustomStringConvertible {
    case started(String)
    case step(StepMetrics, totalSteps: Int, etaSeconds: Double)
    case eval(step: Int, EvalResult)
    case checkpoint(step: Int, path: String)
    case message(String)
    case finished(TrainingSummary)

    public var description: String {
        switch self {
        case .started(let text), .message(let text):
            return text
        case .step(let m, let total, let eta):
            let skipped = m.skipped ? "  SKIPPED (non-finite loss or gradient)" : ""
            return String(format: "step %d/%d  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s (real)  pad %.0f%%  MFU %.0f%%  eta %@%@",
                          m.step + 1, total, m.loss, m.lr, m.gradNorm, m.realTokensPerSecond ?? m.tokensPerSecond, 100 * (m.padShare ?? 0),
                          100 * (m.mfu ?? 0), formatDuration(eta) as NSString, skipped as NSString)
        case .eval(let step, let r):
            return String(format: "eval after step %d: loss %.4f  perplexity %.3f  accuracy %.2f%% (%d tokens)",
                          step + 1, r.loss, r.perplexity, 100 * r.accuracy, r.tokens)
        case .checkpoint(let step, let path):
            return "checkpoint after step \(step + 1): \(path)"
        case .finished(let s):
            var line = String(format: "finished %d step(s) in %@: %.0f real tokens/s (median step), last loss %.4f, peak RSS %.0f MB on rank 0",
                              s.steps, formatDuration(s.seconds) as NSString, s.medianTokensPerSecond, s.lastLoss, s.peakRssMegabytes)
            if let e = s.eval { line += String(format: "; eval loss %.4f, accuracy %.2f%%", e.loss, 100 * e.accuracy) }
            if let ms = s.simulatedLatencyMs { line += String(format: " (with a SIMULATED +%.3g ms per collective)", ms) }
            return line
        }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
}

/// Peak resident memory of this process in MB: since the last `resetPeakRSS()` where Linux allows
/// resetting it (VmHWM in /proc/self/status), else since the start (getrusage).
public func peakRSSMegabytes() -> Double {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") {
        return kb / 1024
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Resident memory of this process now in MB (VmRSS; 0 where /proc is missing).
public func currentRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to /proc/self/clear_refs resets VmHWM), so
/// runs done one after another in one process each report their own peak.
public func resetPeakRSS() {
    guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
    try? handle.write(contentsOf: Data("5".utf8))
    try? handle.close()
}
