/// Turns token ids into text one id at a time, for generation. A token can end in the middle of a
/// UTF-8 sequence (an emoji often spans two or three tokens), so bytes of an unfinished sequence are
/// held back until it completes. The concatenated output equals `decode` of all the ids.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []
    /// SentencePiece decoders drop one leading space of the whole text: still to do.
    private var stripSpace: Bool

    init(tokenizer: Tokenizer, skipSpecial: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
        self.stripSpace = tokenizer.decodeStripsLeadingSpace
    }

    /// Adds one token; returns the text that became complete (often empty or one word).
    public mutating func push(_ id: Int32) -> String {
        if skipSpecial && tokenizer.isControl(id) { return "" }
        pending.append(contentsOf: tokenizer.bytes(of: id))
        if stripSpace, let first = pending.first {
            if first == 0x20 { pending.removeFirst() }
            stripSpace = false
        }
        let cut = StreamingDecoder.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Emits whatever is held back (an unfinished sequence becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a sequence that could still complete.
    /// Cutting just before a lead byte never changes how the prefix decodes, so the streamed text
    /// equals the one-shot decode even for invalid bytes.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var k = n - 1
        // The last byte that is not a continuation byte, at most 3 back.
        while k >= 0 && k >= n - 4 && bytes[k] & 0xC0 == 0x80 { k -= 1 }
        guard k >= 0 && k >= n - 4 else { return n }
        let expected: Int
        switch bytes[k] {
        case 0xC2...0xDF: expected = 2
        case 0xE0...0xEF: expected = 3
        case 0xF0...0xF4: expected = 4
        default: return n  // ASCII, or a byte that can never start a sequence
        }
        return n - k < expected ? k : n
    }
}
