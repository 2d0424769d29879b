import Tinh
import Foundation

/// The values a sweep tries for each hyper-parameter.
public struct SweepSpace: Codable, Equatable, Sendable {
    public var lr: [Float]
    /// Global batch; trials reach it by gradient accumulation over a fixed micro-batch.
    public var batch: [Int]
    public var rank: [Int]
    public var alpha: [Float]
    public var method: [String]
    public var loraPlusRatio: [Float]

    public init(lr: [Float], batch: [Int], rank: [Int], alpha: [Float], method: [String], loraPlusRatio: [Float]) {
        (self.lr, self.batch, self.rank, self.alpha, self.method, self.loraPlusRatio) = (lr, batch, rank, alpha, method, loraPlusRatio)
    }

    public var gridSize: Int { lr.count * batch.count * rank.count * alpha.count * method.count * loraPlusRatio.count }
}

/// One point of the space: one short training run.
public struct SweepTrial: Codable, Equatable, Hashable, Sendable {
    public var lr: Float
    public var batch: Int
    public var rank: Int
    public var alpha: Float
    public var method: String
    public var loraPlusRatio: Float

    /// A directory name that says what the trial is, so a rerun finds finished trials by name.
    public var name: String {
        "\(method)_lr\(Self.short(lr))_b\(batch)_r\(rank)_a\(Self.short(alpha))_lp\(Self.short(loraPlusRatio))"
    }

    static func short(_ x: Float) -> String {
        let s = String(format: "%g", Double(x))
        return s.replacingOccurrences(of: "+", with: "")
    }

    /// `tinh train` flags for this trial. The batch is split into micro-batches of `microBatch`
    /// examples per rank: --grad-accum = batch / ranks / microBatch.
    public func trainArguments(microBatch: Int, ranks: Int) throws -> [String] {
        guard batch % ranks == 0, (batch / ranks) % microBatch == 0, batch / ranks >= microBatch else {
            throw TinhError.invalidInput("sweep: batch \(batch) does not split into \(ranks) rank(s) × micro-batches of \(microBatch); "
                                         + "choose batches that are multiples of \(ranks * microBatch) or another --micro-batch")
        }
        return ["--method", method, "--lr", "\(lr)", "--batch", "\(batch)", "--grad-accum", "\(batch / ranks / microBatch)",
                "--rank", "\(rank)", "--alpha", "\(alpha)", "--loraplus-ratio", "\(loraPlusRatio)"]
    }
}

/// Which trials a sweep runs, in order: every combination (grid), or `count` distinct combinations
/// drawn with a seeded generator (random), so the same seed always plans the same trials.
public enum SweepPlan {
    public enum Search: String, Codable, Sendable, CaseIterable { case grid, random }

    public static func trials(_ space: SweepSpace, search: Search, count: Int? = nil, seed: UInt64 = 0) throws -> [SweepTrial] {
        for (name, n) in [("lr", space.lr.count), ("batch", space.batch.count), ("rank", space.rank.count), ("alpha", space.alpha.count),
                          ("method", space.method.count), ("loraplus-ratio", space.loraPlusRatio.count)] where n == 0 {
            throw TinhError.invalidInput("sweep: --\(name) needs at least one value")
        }
        var all: [SweepTrial] = []
        for method in space.method {
            for batch in space.batch {
                for lr in space.lr {
                    for rank in space.rank {
                        for alpha in space.alpha {
                            for ratio in space.loraPlusRatio {
                                all.append(SweepTrial(lr: lr, batch: batch, rank: rank, alpha: alpha, method: method, loraPlusRatio: ratio))
                            }
                        }
                    }
                }
            }
        }
        var seen = Set<SweepTrial>()
        all = all.filter { seen.insert($0).inserted }
        switch search {
        case .grid:
            return all
        case .random:
            guard let count, count > 0 else { throw TinhError.invalidInput("sweep: --search random needs --trials N (N > 0)") }
            var generator = SeededGenerator(seed: seed)
            var pool = all
            var picked: [SweepTrial] = []
            while picked.count < count, !pool.isEmpty {
                picked.append(pool.remove(at: Int.random(in: 0..<pool.count, using: &generator)))
            }
            return picked
        }
    }
}

/// The median stopping rule: a trial whose eval loss after step k is worse than the median of the
/// completed trials' eval losses after step k is stopped. It needs `minTrials` completed trials
/// with a value at k before it stops anything.
public struct MedianStoppingRule: Sendable {
    public var minTrials: Int

    public init(minTrials: Int = 2) { self.minTrials = minTrials }

    public func shouldStop(loss: Double, step: Int, completed: [[Int: Double]]) -> (stop: Bool, median: Double?) {
        let values = completed.compactMap { $0[step] }.filter(\.isFinite).sorted()
        guard values.count >= max(1, minTrials) else { return (false, nil) }
        let n = values.count
        let median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
        return (!loss.isFinite || loss > median, median)
    }
}
