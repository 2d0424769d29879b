import Foundation

/// FNV-1a 64-bit over a file's bytes: a cheap check that a checkpoint file is the one written
/// (detects torn writes and bit flips, not tampering).
public enum Checksum {
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    public static func fnv1a64(_ data: Data) -> UInt64 {
        data.withUnsafeBytes { fnv1a64($0) }
    }

    /// 16 lower-case hex digits.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The checksum of a file's bytes, as hex, and its size.
    public static func file(_ path: String) throws -> (hex: String, bytes: Int) {
        let file = try MappedFile(path: path)
        return (hex(fnv1a64(file.bytes)), file.count)
    }
}
