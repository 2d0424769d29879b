/// A GGUF file (versions 2 and 3), memory-mapped. Parsing reads the header, metadata and tensor
/// table and checks every tensor's byte range against the file; tensor data is decoded on demand.
///
/// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata
/// (string key, u32 type, value), tensor infos (string name, u32 n_dims, u64 ne[n_dims],
/// u32 type, u64 offset), padding to `alignment`, data section.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    public let file: MappedFile
    private let index: [String: Int]

    static let maxDims = 4           // GGML_MAX_DIMS
    static let maxArrayDepth = 8     // nested arrays deeper than this are treated as malicious

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var r = file.reader()

        guard r.remaining >= 4 else { throw r.error("truncated: \(r.remaining) bytes is too short for a GGUF header") }
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw r.error("not a GGUF file (magic 0x\(String(magic, radix: 16)), expected \"GGUF\")")
        }
        version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw TinhError.badFile(path: path, reason: "unsupported GGUF version \(version) (Tinh reads versions 2 and 3)")
        }
        // Smallest possible tensor info is 24 bytes, smallest metadata entry 13; cap the counts.
        let tensorCount = try r.count("tensor count", limit: (r.remaining - 16) / 24)
        let kvCount = try r.count("metadata count", limit: r.remaining / 13)

        var meta: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0 ..< kvCount {
            let key = try r.string("key of metadata entry \(i)")
            let value = try Self.readValue(&r, key: key, depth: 0)
            guard meta.updateValue(value, forKey: key) == nil else {
                throw r.error("duplicate metadata key '\(key)'")
            }
            keys.append(key)
        }
        metadata = meta
        metadataKeys = keys

        var align = 32
        if let a = meta["general.alignment"] {
            guard let v = a.int, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw r.error("general.alignment must be a power of two up to 1 MiB, got \(a.summary)")
            }
            align = v
        }
        alignment = align

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        var idx: [String: Int] = [:]
        for i in 0 ..< tensorCount {
            let info = try Self.readTensorInfo(&r, number: i, alignment: align)
            guard idx.updateValue(i, forKey: info.name) == nil else {
                throw r.error("duplicate tensor name '\(info.name)'")
            }
            infos.append(info)
        }
        tensors = infos
        index = idx

        let (padded, overflow) = r.offset.addingReportingOverflow((align - r.offset % align) % align)
        dataOffset = overflow ? Int.max : padded
        for t in infos {
            guard let size = t.byteCount else { continue }  // unknown layout: checked when read
            let (end, o1) = dataOffset.addingReportingOverflow(t.offset)
            let (stop, o2) = end.addingReportingOverflow(size)
            guard !o1, !o2, stop <= file.count else {
                throw r.error("tensor '\(t.name)' (\(t.type.name), \(t.shape)) needs \(size) bytes at data offset \(t.offset), "
                    + "past the end of the file (\(file.count) bytes, data section starts at \(dataOffset))")
            }
        }
    }

    // MARK: - Parsing helpers

    private static func readValue(_ r: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        let at = r.offset
        let raw = try r.u32("type of '\(key)'")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw r.error("metadata '\(key)' at offset \(at) has unknown value type \(raw)")
        }
        return try readValue(&r, type: type, key: key, depth: depth)
    }

    private static func readValue(_ r: inout ByteReader, type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try r.u8(key))
        case .int8: return .int8(try r.i8(key))
        case .uint16: return .uint16(try r.u16(key))
        case .int16: return .int16(try r.i16(key))
        case .uint32: return .uint32(try r.u32(key))
        case .int32: return .int32(try r.i32(key))
        case .uint64: return .uint64(try r.u64(key))
        case .int64: return .int64(try r.i64(key))
        case .float32: return .float32(try r.f32(key))
        case .float64: return .float64(try r.f64(key))
        case .string: return .string(try r.string(key))
        case .bool:
            let at = r.offset
            let b = try r.u8(key)
            guard b <= 1 else { throw r.error("metadata '\(key)' at offset \(at): bool byte is \(b), not 0 or 1") }
            return .bool(b == 1)
        case .array:
            guard depth < maxArrayDepth else { throw r.error("metadata '\(key)': arrays nested deeper than \(maxArrayDepth)") }
            let at = r.offset
            let rawElem = try r.u32("array element type of '\(key)'")
            guard let elem = GGUFValueType(rawValue: rawElem) else {
                throw r.error("metadata '\(key)' at offset \(at): unknown array element type \(rawElem)")
            }
            let n = try r.count("element count of '\(key)'", limit: (r.remaining - 8) / elem.minimumSize)
            var values: [GGUFValue] = []
            values.reserveCapacity(n)
            for _ in 0 ..< n {
                values.append(try readValue(&r, type: elem, key: key, depth: depth + 1))
            }
            return .array(elem, values)
        }
    }

    private static func readTensorInfo(_ r: inout ByteReader, number i: Int, alignment: Int) throws -> GGUFTensorInfo {
        let name = try r.string("name of tensor \(i)")
        let nDims = try r.u32("dimension count of '\(name)'")
        guard nDims >= 1, nDims <= maxDims else {
            throw r.error("tensor '\(name)' has \(nDims) dimensions (allowed 1...\(maxDims))")
        }
        var ne: [Int] = []
        var elements = 1
        for d in 0 ..< Int(nDims) {
            let v = try r.u64("ne[\(d)] of '\(name)'")
            guard let n = Int(exactly: v) else { throw r.error("tensor '\(name)': ne[\(d)] = \(v) is too large") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw r.error("tensor '\(name)': element count of \(ne + [n]) overflows") }
            elements = product
            ne.append(n)
        }
        let type = GGMLType(rawValue: try r.u32("type of '\(name)'"))
        let rawOffset = try r.u64("data offset of '\(name)'")
        guard let offset = Int(exactly: rawOffset), offset % alignment == 0 else {
            throw r.error("tensor '\(name)': data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
        }
        var bytes: Int? = nil
        if let layout = type.blockLayout {
            guard ne[0] % layout.elements == 0 else {
                throw r.error("tensor '\(name)': ne[0] = \(ne[0]) is not a multiple of the \(type.name) block size \(layout.elements)")
            }
            let (b, overflow) = (elements / layout.elements).multipliedReportingOverflow(by: layout.bytes)
            guard !overflow else { throw r.error("tensor '\(name)': byte size of \(ne) x \(type.name) overflows") }
            bytes = b
        }
        return GGUFTensorInfo(name: name, ne: ne, type: type, offset: offset, elementCount: elements, byteCount: bytes)
    }

    // MARK: - Access

    public var architecture: String? { metadata["general.architecture"]?.string }

    public func info(_ name: String) -> GGUFTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The stored bytes of a tensor (quantized or not). Valid while this object is alive.
    public func rawData(_ name: String) throws -> (info: GGUFTensorInfo, bytes: UnsafeRawBufferPointer) {
        guard let info = info(name) else {
            throw TinhError.badFile(path: path, reason: "no tensor named '\(name)'")
        }
        guard let size = info.byteCount else { throw unsupported(info) }
        let start = dataOffset + info.offset  // bounds and overflow checked at open
        return (info, UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + size]))
    }

    /// The tensor decoded to Float32, shape in Hugging Face order (ne reversed).
    public func tensor(_ name: String) throws -> Tensor {
        let (info, bytes) = try rawData(name)
        guard info.type.canDequantize else { throw unsupported(info) }
        let t = Tensor(shape: info.shape)
        if let src = bytes.baseAddress {  // nil only for an empty tensor: nothing to decode
            Dequantize.run(info.type, src: src, dst: t.data, count: info.elementCount)
        }
        return t
    }

    /// Decodes a tensor into caller-owned memory (e.g. a reusable per-layer scratch buffer).
    public func dequantize(_ name: String, into dst: UnsafeMutableBufferPointer<Float>) throws {
        let (info, bytes) = try rawData(name)
        try Self.dequantize(info.type, from: bytes, into: dst, what: "tensor '\(name)' in \(path)")
    }

    /// Decodes `dst.count` elements of `type` from `src`, which must hold exactly that many.
    public static func dequantize(_ type: GGMLType, from src: UnsafeRawBufferPointer,
                                  into dst: UnsafeMutableBufferPointer<Float>, what: String = "data") throws {
        guard type.canDequantize, let layout = type.blockLayout else {
            throw TinhError.unsupported("\(what) has type \(type); Tinh can dequantize "
                + GGMLType.dequantizable.map(\.name).joined(separator: ", "))
        }
        guard dst.count % layout.elements == 0, dst.count / layout.elements * layout.bytes == src.count else {
            throw TinhError.invalidInput("\(what): \(src.count) bytes of \(type.name) do not hold \(dst.count) elements")
        }
        guard let out = dst.baseAddress, let from = src.baseAddress, dst.count > 0 else { return }
        Dequantize.run(type, src: from, dst: out, count: dst.count)
    }

    /// A zero-copy view of an F32 tensor in the mapping (shared page cache across processes),
    /// or nil when the tensor is not F32 or not 4-byte aligned.
    public func mappedF32(_ name: String) throws -> Tensor? {
        let (info, bytes) = try rawData(name)
        guard info.type == .f32, let base = bytes.baseAddress,
              Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        let p = UnsafeMutableRawPointer(mutating: base).assumingMemoryBound(to: Float.self)
        return Tensor(shape: info.shape, borrowing: p, owner: file)
    }

    private func unsupported(_ info: GGUFTensorInfo) -> TinhError {
        .unsupported("tensor '\(info.name)' in \(path) has type \(info.type); Tinh can dequantize "
            + GGMLType.dequantizable.map(\.name).joined(separator: ", "))
    }
}
