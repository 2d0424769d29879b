/// Writes Float32 tensors as a safetensors file, atomically (see `AtomicFile`).
/// Tensors are laid out in name order; the JSON header is space-padded so data starts on an
/// 8-byte boundary, which keeps every F32 tensor aligned when the file is memory-mapped.
public enum SafeTensorsWriter {
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String,
                             budget: WriteBudget? = nil) throws {
        let names = tensors.keys.sorted()
        guard !names.contains("__metadata__") else {
            throw TinhError.invalidInput("'__metadata__' cannot be a tensor name in a safetensors file")
        }
        var fields: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            guard let t = tensors[name] else { continue }
            let bytes = t.count * MemoryLayout<Float>.stride
            let shape = t.shape.map(String.init).joined(separator: ",")
            fields.append("\(JSONText.quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        try AtomicFile.write(to: path, budget: budget) { sink in
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try sink.write($0) }
            try sink.write(header)
            for name in names {
                guard let t = tensors[name] else { continue }
                try sink.write(UnsafeRawBufferPointer(start: t.data, count: t.count * MemoryLayout<Float>.stride))
            }
        }
    }

}
