/// One micro-batch of whole examples packed back to back into a single row with no pad
/// (`--batch-tokens`). Attention stays inside each example and RoPE positions restart at each
/// start (`segments`), so every example's loss and gradients are those it has trained alone.
///
/// Each example of n tokens gives n − 1 input positions: input t predicts token t + 1 of the same
/// example (where its loss mask is on), and the last token is only a target. A padded row spends a
/// position on that last token too, with no target; here nothing is spent on it.
public struct VarlenBatch: Sendable {
    public let tokens: [Int32]
    public let targets: [Int32]
    public let segments: AttentionSegments
    /// Positions in the row: every one is a real token.
    public var count: Int { tokens.count }
    public let lossTokens: Int

    public init(examples: [TokenizedExample], indices: [Int]) throws {
        var tokens: [Int32] = [], targets: [Int32] = [], starts: [Int] = []
        var lossTokens = 0
        for index in indices {
            guard examples.indices.contains(index) else {
                throw TinhError.invalidInput("batch: example index \(index) is outside 0..<\(examples.count)")
            }
            let e = examples[index]
            guard e.count >= 2 else { continue }  // nothing to predict
            starts.append(tokens.count)
            for t in 0..<(e.count - 1) {
                tokens.append(e.ids[t])
                if e.lossMask[t + 1] { targets.append(e.ids[t + 1]); lossTokens += 1 } else { targets.append(TrainingBatch.ignoreTarget) }
            }
        }
        guard !tokens.isEmpty else { throw TinhError.invalidInput("batch: no example with a token to predict") }
        self.tokens = tokens
        self.targets = targets
        self.lossTokens = lossTokens
        segments = AttentionSegments(starts: [starts], seq: tokens.count)
    }

    /// Σ over examples of Σ_t (t + 1): the keys every query attends to, for the FLOP count.
    public var attendedKeys: Int {
        segments.ranges(row: 0).reduce(0) { $0 + $1.count * ($1.count + 1) / 2 }
    }
}

/// How `--batch-tokens` lays a global batch out: its examples spread over the ranks so that the
/// tokens (not the examples) balance, then each rank's examples cut into micro-batches of at most
/// the budget. A pure function of the global batch and the example lengths, so of (seed, step, rank).
public enum TokenBalance {
    /// The input positions an example of `count` tokens takes in a varlen batch.
    public static func positions(_ count: Int) -> Int { max(0, count - 1) }

    /// Σ over an example's `positions` queries of the keys each attends to (causal, inside the example).
    public static func attendedKeys(_ positions: Int) -> Int { positions * (positions + 1) / 2 }

    /// Longest-processing-time assignment: examples by decreasing length (ties by their place in
    /// the batch), each to the rank with the fewest tokens so far (ties to the lower rank). The
    /// heaviest rank then carries at most 4/3 of the optimum; every rank gets one example when
    /// the batch has at least as many as there are ranks. Each rank keeps its examples in batch order.
    public static func split(_ global: [Int], tokens: (Int) -> Int, worldSize: Int) -> [[Int]] {
        let order = global.indices.sorted { a, b in
            let (ta, tb) = (tokens(global[a]), tokens(global[b]))
            return ta != tb ? ta > tb : a < b
        }
        var load = [Int](repeating: 0, count: worldSize)
        var mine = [[Int]](repeating: [], count: worldSize)
        for place in order {
            var rank = 0
            for r in 1..<max(worldSize, 1) where load[r] < load[rank] { rank = r }
            load[rank] += tokens(global[place])
            mine[rank].append(place)
        }
        return mine.map { $0.sorted().map { global[$0] } }
    }

    /// `indices` in order, cut into runs of at most `budget` tokens (an example longer than the
    /// budget gets a micro-batch of its own; `TrainConfig` keeps the budget ≥ --seq, so none is).
    public static func microBatches(_ indices: [Int], tokens: (Int) -> Int, budget: Int) -> [[Int]] {
        var groups: [[Int]] = [], current: [Int] = [], used = 0
        for i in indices {
            let n = tokens(i)
            if !current.isEmpty && used + n > budget { groups.append(current); current = []; used = 0 }
            current.append(i); used += n
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}
