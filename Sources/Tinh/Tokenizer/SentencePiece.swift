/// Spelling rules of SentencePiece-style vocabularies: "▁" (U+2581) stands for a space, and
/// `<0xNN>` tokens stand for single bytes (byte fallback).
enum SentencePiece {
    static let marker = "\u{2581}"
    private static let markerBytes: [UInt8] = [0xE2, 0x96, 0x81]

    /// `<0x0A>` and the like, upper-case hex as sentencepiece writes them.
    static func byteToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    /// The byte a `<0xNN>` token stands for, if `piece` is one.
    static func byte(ofToken piece: String) -> UInt8? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// What a piece decodes to: its byte for `<0xNN>`, else its text with "▁" turned back into spaces.
    static func bytes(ofPiece piece: String) -> [UInt8] {
        if let b = byte(ofToken: piece) { return [b] }
        var out: [UInt8] = []
        let u = Array(piece.utf8)
        var i = 0
        while i < u.count {
            if i + 3 <= u.count, u[i] == 0xE2, u[i + 1] == 0x96, u[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(u[i]); i += 1
            }
        }
        return out
    }

    /// Whether the stretch already begins with a literal "▁".
    static func startsWithMarker(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        r.count >= 3 && b[r.lowerBound] == markerBytes[0] && b[r.lowerBound + 1] == markerBytes[1]
            && b[r.lowerBound + 2] == markerBytes[2]
    }
}
