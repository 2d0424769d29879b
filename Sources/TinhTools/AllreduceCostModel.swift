import Tinh
import Foundation

/// One measured all-reduce: `ranks` processes summed `bytes` per rank in `seconds` (median).
public struct AllreducePoint: Codable, Sendable, Equatable {
    public var ranks: Int
    public var bytes: Int
    public var seconds: Double

    public init(ranks: Int, bytes: Int, seconds: Double) {
        self.ranks = ranks
        self.bytes = bytes
        self.seconds = seconds
    }
}

/// The α–β (Hockney) cost of an all-reduce of n bytes over p ranks: α per message (latency),
/// β per byte (inverse bandwidth). Which algorithm runs decides how many of each it pays:
///
/// - ring (reduce-scatter + all-gather), for large messages: 2(p−1)·α + 2(p−1)/p·n·β;
/// - recursive doubling, for small ones: ⌈log₂p⌉·(α + n·β).
///
/// Open MPI's tuned component picks recursive doubling for small messages and a ring (segmented)
/// for large ones; its exact switch point depends on p and the version, so this model assumes one
/// fixed switch, `smallMessageLimit` bytes, and takes the cheaper formula's algorithm below it.
/// Both have the same cost at p = 2 apart from α's multiplier (1 vs 2), which is why α is fitted
/// under the same rule the predictions use.
public struct AllreduceCostModel: Codable, Sendable, Equatable {
    public enum Algorithm: String, Codable, Sendable { case ring, recursiveDoubling = "recursive-doubling" }

    /// Seconds per message.
    public var alpha: Double
    /// Seconds per byte.
    public var beta: Double
    /// Messages below this many bytes use recursive doubling, the rest a ring.
    public var smallMessageLimit: Int

    public static let defaultSmallMessageLimit = 10_000

    public init(alpha: Double, beta: Double, smallMessageLimit: Int = defaultSmallMessageLimit) {
        self.alpha = alpha
        self.beta = beta
        self.smallMessageLimit = smallMessageLimit
    }

    public func algorithm(bytes: Int) -> Algorithm { bytes < smallMessageLimit ? .recursiveDoubling : .ring }

    /// The (α, β) multipliers of `algorithm` for p ranks and n bytes: time = a·α + b·β.
    public static func coefficients(_ algorithm: Algorithm, ranks p: Int, bytes n: Int) -> (a: Double, b: Double) {
        guard p > 1 else { return (0, 0) }
        let pd = Double(p), nd = Double(n)
        switch algorithm {
        case .ring: return (2 * (pd - 1), 2 * (pd - 1) / pd * nd)
        case .recursiveDoubling:
            let rounds = (log2(pd)).rounded(.up)
            return (rounds, rounds * nd)
        }
    }

    /// Predicted seconds of one all-reduce of `bytes` per rank over `ranks` ranks (0 for one rank).
    public func seconds(ranks: Int, bytes: Int) -> Double {
        let c = Self.coefficients(algorithm(bytes: bytes), ranks: ranks, bytes: bytes)
        return c.a * alpha + c.b * beta
    }

    /// The same latency with another link bandwidth (bits per second): β = 8 / bandwidth.
    public func with(bitsPerSecond: Double) -> AllreduceCostModel {
        var m = self
        m.beta = 8 / bitsPerSecond
        return m
    }

    /// Messages from this size up set β (the bandwidth the large gradient all-reduces see).
    public static let defaultLargeMessageFloor = 1 << 20
    /// Messages up to this size set α: their bytes cost next to nothing.
    public static let latencyFitMaxBytes = 1024

    /// α and β from measured points, by least squares weighted by 1/time (relative error, so a
    /// 4-byte and a 64-MB point count alike). Latency is fitted on the smallest messages
    /// (≤ `latencyFitMaxBytes`) and bandwidth on the large ones (≥ `largeMessageFloor`),
    /// alternately until both settle: mid-sized messages, where TCP windows, eager limits and
    /// caches make the time anything but linear, would otherwise pull β away from what a large
    /// gradient buffer sees. Without points in both ranges α and β are fitted jointly on all.
    /// Points of one rank carry no cost and are ignored; a negative estimate becomes 0.
    public static func fit(_ points: [AllreducePoint], smallMessageLimit: Int = defaultSmallMessageLimit,
                           largeMessageFloor: Int = defaultLargeMessageFloor) throws -> AllreduceCostModel {
        let used = points.filter { $0.ranks > 1 && $0.seconds > 0 && $0.seconds.isFinite }
        guard used.count >= 2 else {
            throw TinhError.invalidInput("the α–β fit needs at least 2 measured all-reduce points with more than 1 rank, got \(used.count)")
        }
        let rule = AllreduceCostModel(alpha: 0, beta: 0, smallMessageLimit: smallMessageLimit)
        // Each point as (a, b, t) with t = a·α + b·β, scaled by 1/t: minimise Σ (a·α + b·β − 1)².
        func rows(_ ps: [AllreducePoint]) -> [(a: Double, b: Double)] {
            ps.map { p in
                let c = coefficients(rule.algorithm(bytes: p.bytes), ranks: p.ranks, bytes: p.bytes)
                return (c.a / p.seconds, c.b / p.seconds)
            }
        }
        let small = rows(used.filter { $0.bytes <= latencyFitMaxBytes }), large = rows(used.filter { $0.bytes >= largeMessageFloor })
        var alpha = 0.0, beta = 0.0
        if !small.isEmpty && !large.isEmpty {
            // One unknown at a time, the other held: Σ x·(1 − y·other) / Σ x².
            func solve(_ rs: [(a: Double, b: Double)], forAlpha: Bool, other: Double) -> Double {
                var num = 0.0, den = 0.0
                for r in rs {
                    let x = forAlpha ? r.a : r.b, y = forAlpha ? r.b : r.a
                    num += x * (1 - y * other); den += x * x
                }
                return den > 0 ? max(0, num / den) : 0
            }
            for _ in 0..<50 {
                alpha = solve(small, forAlpha: true, other: beta)
                beta = solve(large, forAlpha: false, other: alpha)
            }
        } else {
            (alpha, beta) = jointFit(rows(used))
        }
        return AllreduceCostModel(alpha: alpha, beta: beta, smallMessageLimit: smallMessageLimit)
    }

    /// Both unknowns at once (normal equations); a negative one becomes 0 and the other is refitted.
    static func jointFit(_ rows: [(a: Double, b: Double)]) -> (Double, Double) {
        var saa = 0.0, sab = 0.0, sbb = 0.0, sa = 0.0, sb = 0.0
        for r in rows { saa += r.a * r.a; sab += r.a * r.b; sbb += r.b * r.b; sa += r.a; sb += r.b }
        let det = saa * sbb - sab * sab
        if abs(det) > 1e-12 * saa * sbb {
            let alpha = (sa * sbb - sb * sab) / det, beta = (sb * saa - sa * sab) / det
            if alpha >= 0 && beta >= 0 { return (alpha, beta) }
        }
        let onlyAlpha = saa > 0 ? sa / saa : 0, onlyBeta = sbb > 0 ? sb / sbb : 0
        func residual(_ a: Double, _ b: Double) -> Double { rows.reduce(0) { $0 + pow($1.a * a + $1.b * b - 1, 2) } }
        return residual(onlyAlpha, 0) <= residual(0, onlyBeta) ? (onlyAlpha, 0) : (0, onlyBeta)
    }

    /// The largest |predicted − measured| / measured over `points` with more than one rank.
    public func worstRelativeError(_ points: [AllreducePoint]) -> Double {
        points.filter { $0.ranks > 1 && $0.seconds > 0 }
            .map { abs(seconds(ranks: $0.ranks, bytes: $0.bytes) - $0.seconds) / $0.seconds }.max() ?? 0
    }
}
