import Tinh
import Foundation

/// A data-parallel step as the scaling projection models it: per-rank compute (forward, backward,
/// optimizer; it does not change with p under weak scaling), then the trainer's two all-reduces —
/// the flat gradient buffer and three doubles (loss, token count, stop flag) — not overlapped
/// with compute. With overlap, the exposed part would be smaller: this is the upper bound.
public struct StepTimeModel: Codable, Sendable, Equatable {
    public var computeSeconds: Double
    public var gradientBytes: Int
    public var cost: AllreduceCostModel

    /// The second all-reduce of every step: loss, loss-token count and the stop flag.
    public static let scalarBytes = 3 * MemoryLayout<Double>.stride

    public init(computeSeconds: Double, gradientBytes: Int, cost: AllreduceCostModel) {
        self.computeSeconds = computeSeconds
        self.gradientBytes = gradientBytes
        self.cost = cost
    }

    public func communicationSeconds(ranks: Int) -> Double {
        cost.seconds(ranks: ranks, bytes: gradientBytes) + cost.seconds(ranks: ranks, bytes: Self.scalarBytes)
    }

    public func stepSeconds(ranks: Int) -> Double { computeSeconds + communicationSeconds(ranks: ranks) }

    /// Weak scaling (fixed per-rank batch): throughput(p) / (p · throughput(1)) = T(1) / T(p).
    public func weakEfficiency(ranks: Int) -> Double { stepSeconds(ranks: 1) / stepSeconds(ranks: ranks) }
}

/// One run of a scaling sweep, as `launch/scaling` writes it to scaling.csv (medians over steps).
public struct MeasuredRun: Sendable, Equatable {
    public var setting: String
    public var scaling: String
    public var method: String
    public var ranks: Int
    public var stepSeconds: Double
    /// Forward + backward + optimizer of one rank (rank 0).
    public var computeSeconds: Double
    public var allreduceSeconds: Double
    /// Bytes of the gradient all-reduce (trainable parameters × 4).
    public var gradientBytes: Int
    public var oversubscribed: Bool

    public init(setting: String, scaling: String, method: String, ranks: Int, stepSeconds: Double, computeSeconds: Double,
                allreduceSeconds: Double, gradientBytes: Int, oversubscribed: Bool) {
        self.setting = setting; self.scaling = scaling; self.method = method; self.ranks = ranks
        self.stepSeconds = stepSeconds; self.computeSeconds = computeSeconds; self.allreduceSeconds = allreduceSeconds
        self.gradientBytes = gradientBytes; self.oversubscribed = oversubscribed
    }

    /// The model's step time for this run: its own measured compute plus the modelled all-reduces.
    public func predictedStepSeconds(_ cost: AllreduceCostModel) -> Double {
        StepTimeModel(computeSeconds: computeSeconds, gradientBytes: gradientBytes, cost: cost).stepSeconds(ranks: ranks)
    }
}

/// Reading the small CSV files Tinh's scripts write (a header line, no quoted fields).
public enum SimpleCSV {
    public static func rows(path: String) throws -> [[String: String]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) else {
            throw TinhError.badFile(path: path, reason: "empty (expected a header line)")
        }
        return try lines.dropFirst().enumerated().map { i, line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count else {
                throw TinhError.badFile(path: "\(path):\(i + 2)", reason: "\(fields.count) fields, the header has \(header.count)")
            }
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
    }

    static func field<T>(_ row: [String: String], _ key: String, path: String, line: Int, _ parse: (String) -> T?) throws -> T {
        guard let text = row[key] else { throw TinhError.badFile(path: path, reason: "no column '\(key)'") }
        guard let value = parse(text) else { throw TinhError.badFile(path: "\(path):\(line)", reason: "\(key) '\(text)' is not valid") }
        return value
    }

    /// All-reduce points from `tinh scale-model --measure` (columns ranks, bytes, seconds).
    public static func allreducePoints(path: String) throws -> [AllreducePoint] {
        try rows(path: path).enumerated().map { i, r in
            AllreducePoint(ranks: try field(r, "ranks", path: path, line: i + 2) { Int($0) },
                           bytes: try field(r, "bytes", path: path, line: i + 2) { Int($0) },
                           seconds: try field(r, "seconds", path: path, line: i + 2) { Double($0) })
        }
    }

    /// Runs from `launch/scaling`'s scaling.csv.
    public static func measuredRuns(path: String) throws -> [MeasuredRun] {
        try rows(path: path).enumerated().map { i, r in
            let line = i + 2
            func num(_ k: String) throws -> Double { try field(r, k, path: path, line: line) { Double($0) } }
            return MeasuredRun(setting: r["setting"] ?? "", scaling: r["scaling"] ?? "", method: r["method"] ?? "",
                               ranks: try field(r, "ranks", path: path, line: line) { Int($0) },
                               stepSeconds: try num("step_s"), computeSeconds: try num("compute_s"),
                               allreduceSeconds: try num("allreduce_s"),
                               gradientBytes: try field(r, "gradient_bytes", path: path, line: line) { Int($0) },
                               oversubscribed: r["oversubscribed"] == "yes")
        }
    }
}
