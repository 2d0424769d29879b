/// A cursor over little-endian binary data that never reads out of bounds: every read checks the
/// bytes remaining and throws `TinhError.badFile` naming the offset and what was being read.
/// Callers must keep the underlying memory alive (a `MappedFile` or an array they hold).
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public let path: String
    public private(set) var offset: Int = 0

    public init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    public var remaining: Int { bytes.count - offset }

    public func error(_ reason: String) -> TinhError {
        .badFile(path: path, reason: reason)
    }

    /// Throws unless `n` more bytes are available.
    public func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw error("truncated at offset \(offset): \(what()) needs \(n) bytes, only \(remaining) remain")
        }
    }

    public mutating func seek(to position: Int) throws {
        guard position >= 0, position <= bytes.count else {
            throw error("offset \(position) is outside the file (\(bytes.count) bytes)")
        }
        offset = position
    }

    public mutating func skip(_ n: Int, _ what: @autoclosure () -> String = "padding") throws {
        try need(n, what())
        offset += n
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        try need(size, what())
        let raw = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: raw)
    }

    public mutating func u8(_ what: @autoclosure () -> String = "u8") throws -> UInt8 { try load(UInt8.self, what()) }
    public mutating func i8(_ what: @autoclosure () -> String = "i8") throws -> Int8 { try load(Int8.self, what()) }
    public mutating func u16(_ what: @autoclosure () -> String = "u16") throws -> UInt16 { try load(UInt16.self, what()) }
    public mutating func i16(_ what: @autoclosure () -> String = "i16") throws -> Int16 { try load(Int16.self, what()) }
    public mutating func u32(_ what: @autoclosure () -> String = "u32") throws -> UInt32 { try load(UInt32.self, what()) }
    public mutating func i32(_ what: @autoclosure () -> String = "i32") throws -> Int32 { try load(Int32.self, what()) }
    public mutating func u64(_ what: @autoclosure () -> String = "u64") throws -> UInt64 { try load(UInt64.self, what()) }
    public mutating func i64(_ what: @autoclosure () -> String = "i64") throws -> Int64 { try load(Int64.self, what()) }

    public mutating func f32(_ what: @autoclosure () -> String = "f32") throws -> Float {
        Float(bitPattern: try load(UInt32.self, what()))
    }

    public mutating func f64(_ what: @autoclosure () -> String = "f64") throws -> Double {
        Double(bitPattern: try load(UInt64.self, what()))
    }

    /// A u64 that must fit in Int and be at most `limit` (e.g. the bytes left), checked before any use.
    public mutating func count(_ what: @autoclosure () -> String, limit: Int) throws -> Int {
        let at = offset
        let v = try u64(what())
        guard v <= UInt64(max(limit, 0)) else {
            throw error("truncated or corrupt at offset \(at): \(what()) is \(v), more than the \(max(limit, 0)) that fit in the \(remaining) bytes left")
        }
        return Int(v)
    }

    /// Raw bytes, returned as a slice of the underlying buffer (no copy).
    public mutating func slice(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try need(n, what())
        let s = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + n])
        offset += n
        return s
    }

    /// A u64 length followed by that many UTF-8 bytes. Invalid UTF-8 is an error, not a repair.
    public mutating func string(_ what: @autoclosure () -> String = "string") throws -> String {
        let at = offset
        let n = try count("length of \(what())", limit: remaining - 8)
        let s = try slice(n, what())
        guard let text = String(validating: s, as: UTF8.self) else {
            throw error("\(what()) at offset \(at) is not valid UTF-8")
        }
        return text
    }
}
