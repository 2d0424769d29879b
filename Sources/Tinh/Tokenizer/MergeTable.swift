/// Builds the merge dictionary `BPEMerger` reads: (left id, right id) -> (priority, merged id).
enum MergeTable {
    /// Hugging Face's ranked merges: priority is the rank; the first of duplicate pairs wins.
    static func ranked(_ pairs: [(String, String)], vocabulary: [String: Int32]) throws -> [UInt64: UInt64] {
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let left = vocabulary[a], let right = vocabulary[b], let merged = vocabulary[a + b] else {
                throw TinhError.invalidInput("tokenizer: merge \(rank) \"\(a) \(b)\" names a token not in the vocabulary")
            }
            let key = BPEMerger.pairKey(left, right)
            if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(UInt32(merged)) }
        }
        return merges
    }

    /// llama.cpp's (and sentencepiece's) BPE rule: two adjacent symbols merge when their
    /// concatenation is a token, the highest-scoring such token first, leftmost among equal scores.
    /// Every split of every mergeable token into two tokens is one pair; equal scores share a
    /// priority so the merge loop breaks their ties by position, as llama.cpp does.
    static func fromScores(_ scores: [Float], tokens: [String], types: [Int32],
                           vocabulary: [String: Int32]) -> [UInt64: UInt64] {
        let distinct = Array(Set(scores)).sorted(by: >)
        var priority: [Float: UInt64] = [:]
        for (i, s) in distinct.enumerated() { priority[s] = UInt64(i) }
        var merges: [UInt64: UInt64] = [:]
        for (id, token) in tokens.enumerated() {
            let type = TokenType(rawValue: types[id])
            guard type == .normal || type == .userDefined, token.unicodeScalars.count > 1,
                  vocabulary[token] == Int32(id) else { continue }
            let scalars = Array(token.unicodeScalars)
            for cut in 1..<scalars.count {
                let left = String(String.UnicodeScalarView(scalars[..<cut]))
                let right = String(String.UnicodeScalarView(scalars[cut...]))
                guard let l = vocabulary[left], let r = vocabulary[right] else { continue }
                merges[BPEMerger.pairKey(l, r)] = priority[scores[id]]! << 32 | UInt64(UInt32(id))
            }
        }
        return merges
    }
}
