/// GPT-2's reversible byte <-> Unicode mapping. Byte-level BPE vocabularies spell every byte as a
/// printable character: the 188 printable Latin-1 bytes stand for themselves and the other 68
/// (controls, space, 0x7F-0xA0, 0xAD) are shifted to U+0100 and up, in byte order, so that a space
/// is written "Ġ" (U+0120) and a newline "Ċ" (U+010A).
enum ByteLevel {
    /// The character that spells each byte, indexed by byte.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for b in 0..<256 {
            if isPrintedAsItself(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(shifted)!  // 256...323: always valid scalars
                shifted += 1
            }
        }
        return table
    }()

    /// The inverse of `byteToScalar`, for scalar values below 512 (all of them are).
    private static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    static func isPrintedAsItself(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The byte a byte-level character stands for, or nil if it is not one of the 256.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
        return UInt8(scalarToByte[v])
    }

    /// The byte-level spelling of some bytes, as vocabularies store it.
    static func spell<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// The bytes a byte-level spelled token stands for; nil if any character is outside the alphabet
    /// (such a token, e.g. an added token written in plain text, stands for its own UTF-8).
    static func bytes(ofSpelling token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }
}
