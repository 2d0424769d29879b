/// Writes GGUF version 3 files, the mirror of `GGUFFile`: header, metadata in the given order,
/// tensor table, padding to `alignment`, then each tensor's bytes at an aligned offset.
///
/// Tensors are produced one at a time by their entry's `encode` closure into a reused buffer, so
/// a merged 8B model never sits in memory twice. The file is written atomically (`AtomicFile`):
/// a full disk or a kill leaves the previous file, never a half-written one.
public enum GGUFWriter {
    /// One tensor: its name, ggml shape (`ne`, fastest dimension first), type, and a closure that
    /// fills exactly `byteCount` bytes.
    public struct Tensor {
        public let name: String
        public let ne: [Int]
        public let type: GGMLType
        public let encode: (UnsafeMutableRawBufferPointer) throws -> Void

        public init(name: String, ne: [Int], type: GGMLType, encode: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) {
            self.name = name
            self.ne = ne
            self.type = type
            self.encode = encode
        }

        /// Bytes of data, from the type's block layout.
        public func byteCount() throws -> Int {
            guard let layout = type.blockLayout else { throw TinhError.unsupported("writing GGUF tensor '\(name)' of type \(type)") }
            let elements = ne.reduce(1, *)
            guard ne.count >= 1, ne.count <= GGUFFile.maxDims, ne.allSatisfy({ $0 > 0 }), ne[0] % layout.elements == 0 else {
                throw TinhError.invalidInput("GGUF tensor '\(name)': shape \(ne) cannot be stored as \(type.name) "
                    + "(rows of \(ne.first ?? 0) are not whole blocks of \(layout.elements))")
            }
            return elements / layout.elements * layout.bytes
        }
    }

    public static let defaultAlignment = 32

    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor], to path: String,
                             alignment: Int = defaultAlignment, budget: WriteBudget? = nil) throws {
        var keys = Set<String>()
        for (key, _) in metadata where !keys.insert(key).inserted {
            throw TinhError.invalidInput("GGUF metadata key '\(key)' appears twice")
        }
        var names = Set<String>()
        for t in tensors where !names.insert(t.name).inserted {
            throw TinhError.invalidInput("GGUF tensor '\(t.name)' appears twice")
        }
        if let a = metadata.first(where: { $0.key == "general.alignment" })?.value.int, a != alignment {
            throw TinhError.invalidInput("general.alignment = \(a) in the metadata, but the file is written with \(alignment)")
        }
        let sizes = try tensors.map { try $0.byteCount() }

        var head = ByteSink()
        head.u32(0x4655_4747)  // "GGUF"
        head.u32(3)
        head.u64(UInt64(tensors.count))
        head.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            head.string(key)
            head.u32(value.type.rawValue)
            try head.value(value, key: key)
        }
        var offset = 0
        for (t, size) in zip(tensors, sizes) {
            head.string(t.name)
            head.u32(UInt32(t.ne.count))
            for n in t.ne { head.u64(UInt64(n)) }
            head.u32(t.type.rawValue)
            head.u64(UInt64(offset))
            offset += padded(size, alignment)
        }
        head.pad(to: alignment)

        try AtomicFile.write(to: path, budget: budget) { sink in
            try sink.write(head.bytes)
            var buffer = [UInt8]()
            for (t, size) in zip(tensors, sizes) {
                let total = padded(size, alignment)
                if buffer.count < total { buffer = [UInt8](repeating: 0, count: total) }
                try buffer.withUnsafeMutableBytes { raw in
                    let data = UnsafeMutableRawBufferPointer(rebasing: raw[0 ..< size])
                    try t.encode(data)
                    // Zero the padding: a reused buffer holds the previous tensor's bytes there.
                    if total > size { UnsafeMutableRawBufferPointer(rebasing: raw[size ..< total]).initializeMemory(as: UInt8.self, repeating: 0) }
                    try sink.write(UnsafeRawBufferPointer(rebasing: raw[0 ..< total]))
                }
            }
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

/// Little-endian encoding of GGUF's scalar, string and array values.
struct ByteSink {
    var bytes: [UInt8] = []

    mutating func raw<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { raw(v) }
    mutating func u64(_ v: UInt64) { raw(v) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func pad(to alignment: Int) {
        bytes.append(contentsOf: repeatElement(0, count: GGUFWriter.padded(bytes.count, alignment) - bytes.count))
    }

    mutating func value(_ v: GGUFValue, key: String) throws {
        switch v {
        case .uint8(let x): raw(x)
        case .int8(let x): raw(x)
        case .uint16(let x): raw(x)
        case .int16(let x): raw(x)
        case .uint32(let x): raw(x)
        case .int32(let x): raw(x)
        case .uint64(let x): raw(x)
        case .int64(let x): raw(x)
        case .float32(let x): raw(x.bitPattern)
        case .float64(let x): raw(x.bitPattern)
        case .bool(let x): bytes.append(x ? 1 : 0)
        case .string(let s): string(s)
        case .array(let type, let values):
            guard type != .array || values.allSatisfy({ $0.type == .array }) else {
                throw TinhError.invalidInput("GGUF metadata '\(key)': array elements do not all have type \(type)")
            }
            if let bad = values.first(where: { $0.type != type }) {
                throw TinhError.invalidInput("GGUF metadata '\(key)': an array of \(type) holds a \(bad.type)")
            }
            u32(type.rawValue)
            u64(UInt64(values.count))
            for e in values { try value(e, key: key) }
        }
    }
}
