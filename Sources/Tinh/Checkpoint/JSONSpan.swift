import Foundation

/// Finds the byte range of one member's value in a JSON object without decoding it, so an
/// embedded object can be handed back byte for byte. Assumes the text is valid JSON (callers
/// decode it first); on anything unexpected it reports a bad file rather than guessing.
enum JSONSpan {
    static func topLevelValue(of key: String, in bytes: [UInt8], path: String) throws -> Range<Int>? {
        var i = 0
        func bad(_ why: String) -> TinhError { .badFile(path: path, reason: "malformed JSON: \(why) at byte \(i)") }
        func skipSpace() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }
        /// Skips a string starting at bytes[i] == '"'; returns its raw contents.
        func skipString() throws -> ArraySlice<UInt8> {
            let start = i + 1
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""): i += 1; return bytes[start..<(i - 1)]
                default: i += 1
                }
            }
            throw bad("unterminated string")
        }
        /// Skips one value of any kind.
        func skipValue() throws {
            skipSpace()
            guard i < bytes.count else { throw bad("missing value") }
            if bytes[i] == UInt8(ascii: "\"") { _ = try skipString(); return }
            if bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "[") {
                var depth = 0
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "\""): _ = try skipString(); continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 { i += 1; return }
                    default: break
                    }
                    i += 1
                }
                throw bad("unterminated object or array")
            }
            // number, true, false, null
            while i < bytes.count, !",}] \n\r\t".utf8.contains(bytes[i]) { i += 1 }
        }

        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { throw bad("expected an object") }
        i += 1
        let wanted = Array(key.utf8)
        while true {
            skipSpace()
            guard i < bytes.count else { throw bad("unterminated object") }
            if bytes[i] == UInt8(ascii: "}") { return nil }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "\"") else { throw bad("expected a member name") }
            let name = try skipString()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw bad("expected ':'") }
            i += 1
            skipSpace()
            let start = i
            try skipValue()
            if Array(name) == wanted { return start..<i }
        }
    }
}
