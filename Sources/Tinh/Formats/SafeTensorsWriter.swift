/// Writes safetensors files, atomically (see `AtomicFile`).
/// The JSON header is space-padded so data starts on an 8-byte boundary, and entries are laid out
/// by element size, widest first (then by name), so every tensor is aligned to its element when
/// the file is memory-mapped: the format allows no holes to pad with.
public enum SafeTensorsWriter {
    /// One tensor's header fields and its bytes (which must stay valid until `write` returns).
    public struct Entry {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        public let bytes: UnsafeRawBufferPointer

        public init(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: UnsafeRawBufferPointer) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// A Float32 tensor, viewed in place.
        public init(name: String, tensor t: Tensor) {
            self.init(name: name, dtype: .F32, shape: t.shape, bytes: UnsafeRawBufferPointer(start: t.data, count: t.count * MemoryLayout<Float>.stride))
        }
    }

    /// Float32 tensors.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String,
                             budget: WriteBudget? = nil) throws {
        try withExtendedLifetime(tensors) {
            try write(entries: tensors.map { Entry(name: $0.key, tensor: $0.value) }, metadata: metadata, to: path, budget: budget)
        }
    }

    public static func write(entries unordered: [Entry], metadata: [String: String] = [:], to path: String,
                             budget: WriteBudget? = nil) throws {
        let entries = unordered.sorted { ($1.dtype.size, $0.name) < ($0.dtype.size, $1.name) }
        if entries.contains(where: { $0.name == "__metadata__" }) {
            throw TinhError.invalidInput("'__metadata__' cannot be a tensor name in a safetensors file")
        }
        if let dup = Dictionary(grouping: entries, by: \.name).first(where: { $0.value.count > 1 }) {
            throw TinhError.invalidInput("tensor '\(dup.key)' appears twice in one safetensors file")
        }
        if let bad = entries.first(where: { $0.shape.reduce($0.dtype.size, *) != $0.bytes.count }) {
            throw TinhError.invalidInput("tensor '\(bad.name)': \(bad.bytes.count) bytes do not make \(bad.dtype.rawValue) \(bad.shape)")
        }
        var fields: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for e in entries {
            let shape = e.shape.map(String.init).joined(separator: ",")
            fields.append("\(JSONText.quoted(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
            offset += e.bytes.count
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        try AtomicFile.write(to: path, budget: budget) { sink in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try sink.write($0) }
            try sink.write(header)
            for e in entries where e.bytes.count > 0 { try sink.write(e.bytes) }
        }
    }
}
