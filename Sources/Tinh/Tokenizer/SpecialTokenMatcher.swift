/// Finds special and added tokens (`<|im_start|>` and the like) in text so they become one id each
/// instead of being spelled out by BPE. Leftmost match wins, and the longest at that position.
/// A token with `strip` also swallows the whitespace beside it, as Hugging Face's lstrip/rstrip do.
struct SpecialTokenMatcher: Sendable {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let id: Int32
        /// Control tokens are matched only when special parsing is on; user-defined ones always.
        let isControl: Bool
        var strip = AddedTokenStrip()
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
                var start = i, end = i + e.bytes.count
                if e.strip.left {
                    while start > textStart, let w = Whitespace.before(bytes, start, floor: textStart) { start -= w }
                }
                if e.strip.right {
                    while end < n, let w = Whitespace.after(bytes, end) { end += w }
                }
                if textStart < start { segments.append(.text(textStart..<start)) }
                segments.append(.token(e.id, start..<end))
                i = end
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

/// Unicode White_Space scalars in UTF-8, found forwards or backwards; the byte length, or nil.
enum Whitespace {
    static func after(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        var k = i + 1
        while k < b.count && k < i + 4 && b[k] & 0xC0 == 0x80 { k += 1 }
        return isWhitespace(b, i..<k) ? k - i : nil
    }

    static func before(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, floor: Int) -> Int? {
        var k = i - 1
        while k > floor && k > i - 4 && b[k] & 0xC0 == 0x80 { k -= 1 }
        return isWhitespace(b, k..<i) ? i - k : nil
    }

    private static func isWhitespace(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        let s = String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self).unicodeScalars
        return s.count == 1 && s.first!.value != 0xFFFD && s.first!.properties.isWhitespace
    }
}
