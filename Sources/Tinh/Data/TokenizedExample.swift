/// One record as tokens, ready for batching.
///
/// `lossMask[i]` says whether predicting `ids[i]` (as a target, from position i - 1) counts in the
/// loss. `lossMask[0]` is always false: the first token has nothing before it in its example, and
/// when examples are packed into one row it stops the model being trained to guess the start of
/// an unrelated example from the previous one's end.
public struct TokenizedExample: Equatable, Sendable {
    public var ids: [Int32]
    public var lossMask: [Bool]

    public init(ids: [Int32], lossMask: [Bool]) {
        precondition(ids.count == lossMask.count, "TokenizedExample: ids and lossMask differ in length")
        self.ids = ids
        self.lossMask = lossMask
        if !self.lossMask.isEmpty { self.lossMask[0] = false }
    }

    public var count: Int { ids.count }

    /// Number of tokens that are targets with loss.
    public var lossTokens: Int {
        var n = 0
        for on in lossMask where on { n += 1 }
        return n
    }

    /// Keeps the first `maxTokens` tokens; returns whether anything was cut.
    @discardableResult
    public mutating func truncate(to maxTokens: Int) -> Bool {
        let maxTokens = max(0, maxTokens)
        guard ids.count > maxTokens else { return false }
        ids.removeSubrange(maxTokens...)
        lossMask.removeSubrange(maxTokens...)
        return true
    }
}
