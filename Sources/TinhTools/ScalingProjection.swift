import Tinh
import Foundation

/// Fits the α–β all-reduce cost, checks it against measured training runs, and predicts weak
/// scaling to many ranks per method and link speed. `tinh scale-model` prints and writes this.
public struct ScalingProjection {
    public struct Check: Sendable {
        public var run: MeasuredRun
        public var predictedSeconds: Double
        public var relativeError: Double { (predictedSeconds - run.stepSeconds) / run.stepSeconds }
    }

    public struct Row: Sendable {
        public var method: String
        /// "fitted" (β as measured) or e.g. "10 Gbit/s".
        public var link: String
        public var ranks: Int
        public var computeSeconds: Double
        public var communicationSeconds: Double
        public var stepSeconds: Double { computeSeconds + communicationSeconds }
        public var efficiency: Double
    }

    public var cost: AllreduceCostModel
    public var largeMessageFloor: Int
    public var points: [AllreducePoint]
    public var checks: [Check]
    public var rows: [Row]
    /// What the measurements ran on ("2 hosts, 1gbit"); printed with every table.
    public var setting: String
    /// Set when a SIMULATED latency was added to the measured collectives (ms).
    public var simulatedLatencyMs: Double?

    /// `runs` with more than one rank are the check; per method, the compute time of its
    /// fewest-rank weak-scaling run (not oversubscribed) is the per-rank compute of the projection.
    public init(points: [AllreducePoint], runs: [MeasuredRun], ranks: [Int], linksBitsPerSecond: [Double],
                setting: String, simulatedLatencyMs: Double? = nil,
                smallMessageLimit: Int = AllreduceCostModel.defaultSmallMessageLimit,
                largeMessageFloor: Int = AllreduceCostModel.defaultLargeMessageFloor) throws {
        cost = try AllreduceCostModel.fit(points, smallMessageLimit: smallMessageLimit, largeMessageFloor: largeMessageFloor)
        self.largeMessageFloor = largeMessageFloor
        self.points = points
        self.setting = setting
        self.simulatedLatencyMs = simulatedLatencyMs
        let model = cost
        checks = runs.filter { $0.ranks > 1 }.map { Check(run: $0, predictedSeconds: $0.predictedStepSeconds(model)) }
        var rows: [Row] = []
        let methods = runs.map(\.method).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for method in methods {
            let candidates = runs.filter { $0.method == method && !$0.oversubscribed }
            guard let base = (candidates.filter { $0.scaling == "weak" }.min { $0.ranks < $1.ranks }
                              ?? candidates.min { $0.ranks < $1.ranks }) else { continue }
            var links: [(String, AllreduceCostModel)] = [("fitted", cost)]
            for bps in linksBitsPerSecond { links.append((Self.linkName(bps), cost.with(bitsPerSecond: bps))) }
            for (name, c) in links {
                let m = StepTimeModel(computeSeconds: base.computeSeconds, gradientBytes: base.gradientBytes, cost: c)
                for p in ranks {
                    rows.append(Row(method: method, link: name, ranks: p, computeSeconds: m.computeSeconds,
                                    communicationSeconds: m.communicationSeconds(ranks: p), efficiency: m.weakEfficiency(ranks: p)))
                }
            }
        }
        self.rows = rows
    }

    static func linkName(_ bps: Double) -> String {
        bps >= 1e9 ? String(format: "%g Gbit/s", bps / 1e9) : String(format: "%g Mbit/s", bps / 1e6)
    }

    public var worstCheckError: Double? { checks.map { abs($0.relativeError) }.max() }

    public var simulatedNote: String {
        simulatedLatencyMs.map { String(format: " (measured with a SIMULATED +%g ms per collective)", $0) } ?? ""
    }

    public var fitLine: String {
        let fitted = points.filter { $0.bytes <= AllreduceCostModel.latencyFitMaxBytes || $0.bytes >= largeMessageFloor }
        return String(format: "α = %.2f µs per message (from messages ≤ %d B), β = %.4g ns/byte = %.3g GB/s (from messages ≥ %d B); recursive doubling below %d B, ring above; worst error %.1f%% on those %d sizes, %.1f%% on all %d",
                      cost.alpha * 1e6, AllreduceCostModel.latencyFitMaxBytes, cost.beta * 1e9, cost.beta > 0 ? 1e-9 / cost.beta : .infinity, largeMessageFloor, cost.smallMessageLimit,
                      100 * cost.worstRelativeError(fitted), fitted.filter { $0.ranks > 1 }.count,
                      100 * cost.worstRelativeError(points), points.filter { $0.ranks > 1 }.count) + " [\(setting)]" + simulatedNote
    }

    /// Measured step time of each multi-rank run beside the model's (its own compute + modelled all-reduces).
    public var checkTable: String {
        var lines = ["| setting | scaling | method | ranks | measured step (s) | predicted (s) | error |", "|---|---|---|---:|---:|---:|---:|"]
        for c in checks {
            lines.append(String(format: "| %@ | %@ | %@ | %d%@ | %.3f | %.3f | %+.1f%% |", c.run.setting as NSString, c.run.scaling as NSString,
                                c.run.method as NSString, c.run.ranks, (c.run.oversubscribed ? " (oversubscribed)" : "") as NSString,
                                c.run.stepSeconds, c.predictedSeconds, 100 * c.relativeError))
        }
        return lines.joined(separator: "\n")
    }

    /// Predicted weak-scaling efficiency: one row per rank count, one column per method × link.
    public var projectionTable: String {
        var columns: [(String, String)] = []
        for r in rows where !columns.contains(where: { $0 == (r.method, r.link) }) { columns.append((r.method, r.link)) }
        let ranks = rows.map(\.ranks).reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
        var lines = ["| ranks | " + columns.map { "\($0.0) @ \($0.1)" }.joined(separator: " | ") + " |",
                     "|---:|" + String(repeating: "---:|", count: columns.count)]
        for p in ranks {
            let cells = columns.map { col -> String in
                guard let r = rows.first(where: { $0.method == col.0 && $0.link == col.1 && $0.ranks == p }) else { return "" }
                return String(format: "%.1f%% (%.3g s)", 100 * r.efficiency, r.stepSeconds)
            }
            lines.append("| \(p) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    public var projectionCSV: String {
        var out = "method,link,ranks,compute_s,communication_s,step_s,efficiency,setting,simulated_latency_ms\n"
        for r in rows {
            out += "\(r.method),\(r.link),\(r.ranks),\(r.computeSeconds),\(r.communicationSeconds),\(r.stepSeconds),\(r.efficiency),\(setting),\(simulatedLatencyMs.map { "\($0)" } ?? "0")\n"
        }
        return out
    }

    public var checkCSV: String {
        var out = "setting,scaling,method,ranks,oversubscribed,measured_step_s,predicted_step_s,relative_error\n"
        for c in checks {
            out += "\(c.run.setting),\(c.run.scaling),\(c.run.method),\(c.run.ranks),\(c.run.oversubscribed ? "yes" : "no"),\(c.run.stepSeconds),\(c.predictedSeconds),\(c.relativeError)\n"
        }
        return out
    }

    /// The fitted curve at the measured sizes and rank counts, for plotting beside the points.
    public var fitCSV: String {
        var out = "ranks,bytes,measured_s,predicted_s,algorithm\n"
        for p in points where p.ranks > 1 {
            out += "\(p.ranks),\(p.bytes),\(p.seconds),\(cost.seconds(ranks: p.ranks, bytes: p.bytes)),\(cost.algorithm(bytes: p.bytes).rawValue)\n"
        }
        return out
    }
}
