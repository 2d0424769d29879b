import Foundation

/// One tensor entry of a safetensors header.
public struct SafeTensorsInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataOffsets: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }  // checked for overflow when parsed
}

/// A safetensors file, memory-mapped and validated on open.
///
/// Layout: u64 little-endian header length N, N bytes of JSON (an object: tensor name ->
/// {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" string map),
/// then the data section. Tinh enforces the format's rules: entries tile the data section exactly
/// (no overlap, no hole, nothing left over) and each entry's size matches dtype x shape.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    /// Tensor entries in data order.
    public let tensors: [SafeTensorsInfo]
    public let metadata: [String: String]
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    private let index: [String: Int]

    /// The reference implementation's limit; a larger header is treated as a lie.
    static let maxHeaderSize = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        let path = file.path
        self.file = file
        self.path = path
        var r = file.reader()
        let n = try r.count("header length", limit: min(Self.maxHeaderSize, r.remaining - 8))
        let headerBytes = try r.slice(n, "JSON header")
        dataOffset = r.offset
        let dataSize = file.count - dataOffset

        guard headerBytes.first == UInt8(ascii: "{") else {
            throw TinhError.badFile(path: path, reason: "header does not start with '{' (not a safetensors file?)")
        }
        let header: SafeTensorsHeader
        do {
            header = try JSONDecoder().decode(SafeTensorsHeader.self, from: Data(headerBytes))
        } catch {
            throw TinhError.badFile(path: path, reason: "header is not valid safetensors JSON: \(Self.describe(error))")
        }
        let meta = header.metadata
        var infos = try header.entries.map { try Self.check($0, path: path) }
        metadata = meta

        // Entries must tile [0, dataSize): sort by start and walk.
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        var cursor = 0
        var previous = ""
        for t in infos {
            let range = t.dataOffsets
            guard range.upperBound <= dataSize else {
                throw TinhError.badFile(path: path, reason: "tensor '\(t.name)' data_offsets [\(range.lowerBound), \(range.upperBound)] "
                    + "run past the data section (\(dataSize) bytes)")
            }
            if range.lowerBound < cursor {
                throw TinhError.badFile(path: path, reason: "tensors '\(previous)' and '\(t.name)' overlap "
                    + "(\(t.name) starts at \(range.lowerBound), before \(previous) ends at \(cursor))")
            }
            if range.lowerBound > cursor {
                throw TinhError.badFile(path: path, reason: "gap in the data section: bytes \(cursor)..<\(range.lowerBound) "
                    + "before tensor '\(t.name)' belong to no tensor")
            }
            cursor = range.upperBound
            previous = t.name
        }
        guard cursor == dataSize else {
            throw TinhError.badFile(path: path, reason: "\(dataSize - cursor) bytes after the last tensor belong to no tensor")
        }
        tensors = infos
        var idx: [String: Int] = [:]
        for (i, t) in infos.enumerated() { idx[t.name] = i }
        index = idx
    }

    private static func check(_ e: SafeTensorsHeader.Entry, path: String) throws -> SafeTensorsInfo {
        func bad(_ why: String) -> TinhError { .badFile(path: path, reason: "tensor '\(e.name)': \(why)") }
        guard let dtype = SafeTensorsDType(rawValue: e.dtype) else {
            throw bad("unknown dtype '\(e.dtype)' (known: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard e.shape.allSatisfy({ $0 >= 0 }) else { throw bad("shape \(e.shape) has a negative dimension") }
        guard e.dataOffsets.count == 2 else { throw bad("data_offsets must be [begin, end], got \(e.dataOffsets)") }
        let begin = e.dataOffsets[0], end = e.dataOffsets[1]
        guard begin >= 0, end >= begin else { throw bad("data_offsets [\(begin), \(end)] need 0 <= begin <= end") }
        var bytes = dtype.size
        for d in e.shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("size of shape \(e.shape) overflows") }
            bytes = p
        }
        guard end - begin == bytes else {
            throw bad("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtype.rawValue) \(e.shape) needs \(bytes)")
        }
        return SafeTensorsInfo(name: e.name, dtype: dtype, shape: e.shape, dataOffsets: begin ..< end)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c), DecodingError.typeMismatch(_, let c),
             DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c):
            let at = c.codingPath.map(\.stringValue).joined(separator: ".")
            return at.isEmpty ? c.debugDescription : "at \(at): \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    // MARK: - Access

    public func info(_ name: String) -> SafeTensorsInfo? { index[name].map { tensors[$0] } }

    /// The stored bytes of a tensor. Valid while this object is alive.
    public func rawData(_ name: String) throws -> (info: SafeTensorsInfo, bytes: UnsafeRawBufferPointer) {
        guard let info = info(name) else { throw TinhError.badFile(path: path, reason: "no tensor named '\(name)'") }
        let start = dataOffset + info.dataOffsets.lowerBound  // validated on open
        return (info, UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + info.dataOffsets.count]))
    }

    /// The tensor as Float32. With `borrow`, an aligned F32 tensor is a zero-copy view of the
    /// mapping (shared page cache; a write makes a private page, never touches the file).
    public func tensor(_ name: String, borrow: Bool = false) throws -> Tensor {
        let (info, bytes) = try rawData(name)
        guard info.dtype.isFloatReadable else {
            throw TinhError.unsupported("tensor '\(name)' in \(path) has dtype \(info.dtype.rawValue); Tinh reads F32, F16 and BF16")
        }
        if borrow, info.dtype == .F32, let base = bytes.baseAddress,
           Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
            let p = UnsafeMutableRawPointer(mutating: base).assumingMemoryBound(to: Float.self)
            return Tensor(shape: info.shape, borrowing: p, owner: file)
        }
        let t = Tensor(shape: info.shape)
        guard let src = bytes.baseAddress else { return t }  // empty tensor
        switch info.dtype {
        case .F16: Dequantize.f16(src, t.data, t.count)
        case .BF16: Dequantize.bf16(src, t.data, t.count)
        default: UnsafeMutableRawPointer(t.data).copyMemory(from: src, byteCount: t.count * 4)
        }
        return t
    }
}
