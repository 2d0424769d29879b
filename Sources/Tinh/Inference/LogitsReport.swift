import Foundation

/// What `tinh logits` prints: the prompt's token ids and, per position, the top-k next-token
/// candidates with their logits, plus the sum and L2 norm of all the position's logits
/// (enough to compare with a reference implementation without shipping 49k floats per position).
public struct LogitsReport: Codable, Sendable {
    public struct Position: Codable, Sendable {
        public var position: Int
        public var inputId: Int32
        public var topIds: [Int32]
        public var topTokens: [String]
        public var topLogits: [Float]
        public var sum: Double
        public var l2: Double
    }

    public var model: String
    public var prompt: String
    public var tokenIds: [Int32]
    public var positions: [Position]

    public static func compute(_ loaded: LoadedModel, prompt: String, topK: Int) throws -> LogitsReport {
        let ids = loaded.tokenizer.encode(prompt)
        guard !ids.isEmpty else { throw TinhError.invalidInput("the prompt encodes to no tokens") }
        guard topK > 0 else { throw TinhError.invalidInput("--top-k must be positive") }
        let logits = try loaded.model.logits(tokens: ids)
        let vocab = loaded.config.vocabSize
        let k = min(topK, vocab)
        let positions = ids.indices.map { p -> Position in
            let row = UnsafeBufferPointer(start: logits.data + p * vocab, count: vocab)
            let top = TopK.indices(row, k: k)
            var sum = 0.0, squares = 0.0
            for x in row { sum += Double(x); squares += Double(x) * Double(x) }
            return Position(position: p, inputId: ids[p], topIds: top.map { Int32($0) },
                            topTokens: top.map { loaded.tokenizer.decode([Int32($0)]) },
                            topLogits: top.map { row[$0] }, sum: sum, l2: squares.squareRoot())
        }
        return LogitsReport(model: loaded.spec, prompt: prompt, tokenIds: ids, positions: positions)
    }
}

/// Indices of the k largest values, largest first (ties: lower index first).
public enum TopK {
    public static func indices(_ values: UnsafeBufferPointer<Float>, k: Int) -> [Int] {
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for i in values.indices {
            let v = values[i]
            if best.count == k, let last = best.last, !(v > values[last]) { continue }
            var at = best.count
            while at > 0 && v > values[best[at - 1]] { at -= 1 }
            best.insert(i, at: at)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
