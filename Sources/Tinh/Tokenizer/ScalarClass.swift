/// The character classes the pre-tokenizer regexes distinguish: `\p{L}`, `\p{N}`, `\s` and the rest.
enum ScalarClass: UInt8 {
    case letter, number, whitespace, other

    /// Classes of ASCII, looked up without touching Unicode tables (the common case).
    private static let ascii: [ScalarClass] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        if (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) { return .letter }
        if (0x30...0x39).contains(v) { return .number }
        if s.properties.isWhitespace { return .whitespace }
        return .other
    }

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 128 { return ascii[Int(value)] }
        guard let s = Unicode.Scalar(value) else { return .other }
        // `\s` in Oniguruma (HF tokenizers) and llama.cpp is the Unicode White_Space property.
        if s.properties.isWhitespace { return .whitespace }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}

/// A stretch of UTF-8 decoded into scalars, with each scalar's class and byte offset.
struct ScalarRun {
    var values: [UInt32] = []
    var classes: [ScalarClass] = []
    /// Byte offset of each scalar, plus one final entry: the end of the stretch.
    var offsets: [Int] = []

    var count: Int { values.count }

    /// Decodes `bytes[range]`. Bytes that are not valid UTF-8 (impossible for text that came from a
    /// Swift String, but never trusted) become one "other" scalar each, so offsets stay exact.
    init(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        values.reserveCapacity(range.count)
        classes.reserveCapacity(range.count)
        offsets.reserveCapacity(range.count + 1)
        var i = range.lowerBound
        while i < range.upperBound {
            let (value, length) = ScalarRun.decode(bytes, at: i, end: range.upperBound)
            values.append(value)
            classes.append(ScalarClass.of(value))
            offsets.append(i)
            i += length
        }
        offsets.append(range.upperBound)
    }

    /// One scalar at `i`: its value and byte length; U+FFFD and length 1 for a malformed sequence.
    private static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> (UInt32, Int) {
        let lead = b[i]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07)
        default: return (0xFFFD, 1)
        }
        guard i + length <= end else { return (0xFFFD, 1) }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return (0xFFFD, 1) }
            value = value << 6 | UInt32(c & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
            return (0xFFFD, 1)
        }
        return (value, length)
    }
}
