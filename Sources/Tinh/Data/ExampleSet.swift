/// Examples of one side of the split, and how to batch them.
public struct ExampleSet: Sendable {
    public let examples: [TokenizedExample]
    public let seq: Int
    /// Input token past an example's end: the tokenizer's pad, else EOS, else 0.
    public let padId: Int32
    /// `Fingerprint` of the examples, as hex.
    public let fingerprint: String
    public let lossTokens: Int

    public init(examples: [TokenizedExample], seq: Int, padId: Int32) {
        self.examples = examples
        self.seq = seq
        self.padId = padId
        self.fingerprint = Fingerprint(examples).hex
        self.lossTokens = examples.reduce(0) { $0 + $1.lossTokens }
    }

    public var count: Int { examples.count }
    public var isEmpty: Bool { examples.isEmpty }

    /// The batch made of the examples at `indices`, one row each.
    public func batch(_ indices: [Int]) throws -> TrainingBatch {
        try TrainingBatch(examples: examples, indices: indices, seq: seq, padId: padId)
    }
}

extension ExampleSet {
    /// The examples at `indices` packed into one row with no pad (`VarlenBatch`).
    public func varlenBatch(_ indices: [Int]) throws -> VarlenBatch {
        try VarlenBatch(examples: examples, indices: indices)
    }

    /// The input positions of the example at `index` that carry a real token (its length − 1, at most seq).
    public func realTokens(_ index: Int) -> Int { min(seq, TokenBalance.positions(examples[index].count)) }
}
