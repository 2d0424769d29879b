/// Finds special and added tokens (`<|im_start|>` and the like) in text so they become one id each
/// instead of being spelled out by BPE. Leftmost match wins, and the longest at that position.
struct SpecialTokenMatcher: Sendable {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let id: Int32
        /// Control tokens are matched only when special parsing is on; user-defined ones always.
        let isControl: Bool
    }

    enum Segment: Equatable {
        case text(Range<Int>)
        case token(Int32, Range<Int>)
    }

    /// Candidates by first byte, longest first.
    private let byFirstByte: [[Entry]]
    let isEmpty: Bool

    init(_ entries: [Entry]) {
        var table = [[Entry]](repeating: [], count: 256)
        for e in entries where !e.bytes.isEmpty { table[Int(e.bytes[0])].append(e) }
        for b in 0..<256 { table[b].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = !entries.contains { !$0.bytes.isEmpty }
    }

    func split(_ bytes: UnsafeBufferPointer<UInt8>, includeControl: Bool) -> [Segment] {
        var segments: [Segment] = []
        var textStart = 0
        var i = 0
        let n = bytes.count
        scan: while i < n {
            for e in byFirstByte[Int(bytes[i])] where (includeControl || !e.isControl) && matches(e.bytes, bytes, at: i) {
                if textStart < i { segments.append(.text(textStart..<i)) }
                segments.append(.token(e.id, i..<(i + e.bytes.count)))
                i += e.bytes.count
                textStart = i
                continue scan
            }
            i += 1
        }
        if textStart < n { segments.append(.text(textStart..<n)) }
        return segments
    }

    private func matches(_ token: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + token.count <= bytes.count else { return false }
        for k in 0..<token.count where bytes[i + k] != token[k] { return false }
        return true
    }
}
