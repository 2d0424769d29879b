/// Which examples each of a step's micro-batches holds on this rank, and what the step computes
/// over all ranks: padded rows (`--batch`, `--grad-accum`), or varlen micro-batches (`--batch-tokens`).
struct StepLayout {
    /// Dataset indices of this rank's micro-batches, in the order they run.
    let microBatches: [[Int]]
    /// Whether each micro-batch is one packed row with its examples kept apart (`VarlenBatch`).
    let varlen: Bool
    /// Over all ranks: input positions with a real token, and positions computed (pad included).
    let realTokens: Int
    let positions: Int
    /// Varlen only: Σ over queries of the keys each attends to (the attention FLOPs).
    let attendedKeys: Int?

    var padShare: Double { positions > 0 ? 1 - Double(realTokens) / Double(positions) : 0 }
}

extension Trainer {
    /// The layout of step `step`: a pure function of (seed, step, rank) and the data.
    func layout(step: Int) throws -> StepLayout {
        let train = data.train
        let global = sampler.globalIndices(step: step)
        let real = global.reduce(0) { $0 + train.realTokens($1) }
        guard let budget = config.batchTokens else {
            let mine = try sampler.indices(step: step, rank: comm.rank, worldSize: comm.size)
            let micro = config.microBatch(worldSize: comm.size)
            let groups = stride(from: 0, to: mine.count, by: micro).map { Array(mine[$0..<min($0 + micro, mine.count)]) }
            return StepLayout(microBatches: groups, varlen: false, realTokens: real, positions: config.batch * config.seq, attendedKeys: nil)
        }
        let tokens = { (i: Int) in train.realTokens(i) }
        let mine = TokenBalance.split(global, tokens: tokens, worldSize: comm.size)[comm.rank]
        let keys = global.reduce(0) { $0 + TokenBalance.attendedKeys(tokens($1)) }
        return StepLayout(microBatches: TokenBalance.microBatches(mine, tokens: tokens, budget: budget), varlen: true,
                          realTokens: real, positions: real, attendedKeys: keys)
    }
}

/// What one rank trains on in one step, as `tinh bench` reports it and a baseline replays it.
public struct StepExamples: Sendable {
    /// This rank's examples, in the order its micro-batches run, cut to what the step sees.
    public let examples: [TokenizedExample]
    /// This rank's input positions with a real token, and Σ over them of the keys each attends to
    /// (causal within its example: an example of n positions has n(n+1)/2).
    public let realTokens: Int
    public let attendedKeys: Int
    /// Positions computed on this rank, pad included (= realTokens with `--batch-tokens`).
    public let positions: Int
}

extension Trainer {
    /// The examples this rank trains on in step `step` (a pure function of seed, step and rank).
    public func stepExamples(_ step: Int) throws -> StepExamples {
        let layout = try self.layout(step: step)
        let train = data.train
        var examples: [TokenizedExample] = [], real = 0, keys = 0
        for i in layout.microBatches.joined() {
            let n = train.realTokens(i)
            var e = train.examples[i]
            e.truncate(to: n + 1)
            examples.append(e)
            real += n
            keys += TokenBalance.attendedKeys(n)
        }
        let rows = layout.microBatches.reduce(0) { $0 + $1.count }
        return StepExamples(examples: examples, realTokens: real, attendedKeys: keys, positions: layout.varlen ? real : rows * config.seq)
    }
}
