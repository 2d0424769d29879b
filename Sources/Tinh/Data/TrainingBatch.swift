/// A batch of rows of `seq` input tokens with their targets, row-major.
///
/// Row r holds example e: `tokens[r*seq + t] = e.ids[t]` and `targets[r*seq + t] = e.ids[t + 1]`
/// when `e.lossMask[t + 1]`, else -1. Past an example's end, tokens are the pad id and targets -1.
public struct TrainingBatch: Equatable, Sendable {
    public let batch: Int
    public let seq: Int
    public let tokens: [Int32]
    /// -1 means "no loss at this position".
    public let targets: [Int32]
    /// Number of targets that are not -1.
    public let lossTokens: Int

    public static let ignoreTarget: Int32 = -1

    /// - Parameters:
    ///   - examples: at most seq + 1 tokens each (longer ones are cut here too).
    ///   - padId: the input token past an example's end (the loss never sees it).
    public init(examples: [TokenizedExample], indices: [Int], seq: Int, padId: Int32) throws {
        guard seq >= 1 else { throw TinhError.invalidInput("batch: seq must be at least 1, got \(seq)") }
        var tokens = [Int32](repeating: padId, count: indices.count * seq)
        var targets = [Int32](repeating: TrainingBatch.ignoreTarget, count: indices.count * seq)
        var lossTokens = 0
        for (row, index) in indices.enumerated() {
            guard examples.indices.contains(index) else {
                throw TinhError.invalidInput("batch: example index \(index) is outside 0..<\(examples.count)")
            }
            let example = examples[index]
            let base = row * seq
            let inputs = min(example.count, seq)
            for t in 0..<inputs {
                tokens[base + t] = example.ids[t]
                // The target of input t is token t + 1.
                if t + 1 < example.count && example.lossMask[t + 1] {
                    targets[base + t] = example.ids[t + 1]
                    lossTokens += 1
                }
            }
        }
        self.batch = indices.count
        self.seq = seq
        self.tokens = tokens
        self.targets = targets
        self.lossTokens = lossTokens
    }
}
