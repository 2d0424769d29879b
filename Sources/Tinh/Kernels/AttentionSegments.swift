/// Examples packed back to back in each batch row of a micro-batch (variable-length batches):
/// per row, the sorted offsets where examples start (the first is 0). Attention stays inside an
/// example and RoPE positions restart at its start. Rows may pack different examples, hence one
/// list per row. Built once per micro-batch; the kernels read `tokenStart` and allocate nothing.
public struct AttentionSegments: Sendable, Equatable {
    public let batch, seq: Int
    /// Per batch row, the example start offsets: strictly increasing, first 0, all < seq.
    public let starts: [[Int]]
    /// [batch·seq]: the start offset of the example holding each token.
    public let tokenStart: [Int]

    public init(starts: [[Int]], seq: Int) {
        precondition(seq > 0 && !starts.isEmpty, "segments need a sequence")
        var table = [Int](repeating: 0, count: starts.count * seq)
        for (b, row) in starts.enumerated() {
            precondition(row.first == 0 && zip(row, row.dropFirst()).allSatisfy { $0 < $1 } && row.last! < seq,
                         "segment starts must rise from 0 and stay inside the row")
            for (i, s) in row.enumerated() {
                let end = i + 1 < row.count ? row[i + 1] : seq
                for t in s..<end { table[b * seq + t] = s }
            }
        }
        self.batch = starts.count; self.seq = seq; self.starts = starts; tokenStart = table
    }

    /// Each row's examples as (start, length).
    public func ranges(row b: Int) -> [Range<Int>] {
        let row = starts[b]
        return row.indices.map { row[$0]..<($0 + 1 < row.count ? row[$0 + 1] : seq) }
    }
}
