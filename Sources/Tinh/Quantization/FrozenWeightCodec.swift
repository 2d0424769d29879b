/// Frozen weights as safetensors entries and back, so a quantized base can live in a file that
/// every rank of a node maps (`SharedBaseCache`). Each storage keeps its own layout, byte for byte,
/// and comes back borrowing the mapping, so a mapped weight computes exactly what the weight it
/// was written from computed:
///
/// - F32: one F32 entry [out, in].
/// - BF16: one BF16 entry [out, in].
/// - INT8: an I8 entry of the codes [out, in] and an F32 entry NAME.int8_scales [blocks, out];
///   the metadata key `int8:NAME` holds "levels,blockSize".
/// - NF4, Q8_0, Q4_0, Q4_1: a U8 entry of the blocks; `blocks:NAME` holds "format,out,in".
public enum FrozenWeightCodec {
    public static let scalesSuffix = ".int8_scales"

    /// The entries and metadata of `w` under `name`; the entries view `w`'s memory (keep `w` alive).
    public static func entries(_ w: FrozenWeight, name: String) throws -> (entries: [SafeTensorsWriter.Entry], metadata: [String: String]) {
        let shape = [w.outFeatures, w.inFeatures]
        switch w {
        case let f as F32Weight:
            return ([SafeTensorsWriter.Entry(name: name, tensor: f.tensor)], [:])
        case let b as BF16Weight:
            let bytes = UnsafeRawBufferPointer(start: b.matrix.data, count: b.matrix.bytes)
            return ([SafeTensorsWriter.Entry(name: name, dtype: .BF16, shape: shape, bytes: bytes)], [:])
        case let q as Int8Weight:
            let m = q.matrix
            let codes = UnsafeRawBufferPointer(start: m.codes, count: m.rows * m.cols)
            let scales = UnsafeRawBufferPointer(start: m.scales, count: m.rows * m.blocks * MemoryLayout<Float>.stride)
            return ([SafeTensorsWriter.Entry(name: name, dtype: .I8, shape: shape, bytes: codes),
                     SafeTensorsWriter.Entry(name: name + scalesSuffix, dtype: .F32, shape: [m.blocks, m.rows], bytes: scales)],
                    ["int8:" + name: "\(m.levels),\(m.blockSize)"])
        case let q as BlockQuantizedWeight:
            let bytes = UnsafeRawBufferPointer(start: q.bytes, count: q.byteCount)
            return ([SafeTensorsWriter.Entry(name: name, dtype: .U8, shape: [q.byteCount], bytes: bytes)],
                    ["blocks:" + name: "\(q.format.rawValue),\(q.outFeatures),\(q.inFeatures)"])
        default:
            throw TinhError.unsupported("\(name): a \(w.formatName) weight cannot be written to a base file")
        }
    }

    /// The weight `name` of `file`, borrowing its mapping; nil when the file holds it as plain F32
    /// (a Float32 tensor, not a frozen weight).
    public static func weight(_ name: String, in file: SafeTensorsFile) throws -> FrozenWeight? {
        let (info, bytes) = try file.rawData(name)
        func bad(_ reason: String) -> TinhError { .badFile(path: file.path, reason: "tensor '\(name)': \(reason)") }
        func ints(_ key: String, _ count: Int) throws -> [String] {
            guard let text = file.metadata[key] else { throw bad("no '\(key)' in the metadata") }
            let parts = text.split(separator: ",").map(String.init)
            guard parts.count == count else { throw bad("'\(key)' is '\(text)'") }
            return parts
        }
        guard let base = bytes.baseAddress else { throw bad("no data") }
        switch info.dtype {
        case .F32:
            return nil
        case .BF16:
            guard info.shape.count == 2 else { throw bad("bf16 weight of shape \(info.shape)") }
            let m = BF16Matrix(borrowing: base.assumingMemoryBound(to: UInt16.self), rows: info.shape[0], cols: info.shape[1], owner: file)
            return try BF16Weight(m)
        case .I8:
            let parts = try ints("int8:" + name, 2)
            guard info.shape.count == 2, let levels = Int(parts[0]), let block = Int(parts[1]), levels > 0, levels <= 127, block > 0 else {
                throw bad("int8 weight of shape \(info.shape) with '\(parts.joined(separator: ","))'")
            }
            let (rows, cols) = (info.shape[0], info.shape[1])
            let (scaleInfo, scaleBytes) = try file.rawData(name + scalesSuffix)
            let blocks = (cols + block - 1) / block
            guard scaleInfo.dtype == .F32, scaleInfo.shape == [blocks, rows], let scales = scaleBytes.baseAddress,
                  Int(bitPattern: scales) % MemoryLayout<Float>.alignment == 0 else {
                throw bad("its scales are \(scaleInfo.dtype.rawValue) \(scaleInfo.shape), expected aligned F32 [\(blocks), \(rows)]")
            }
            let m = Int8Matrix(borrowingCodes: base.assumingMemoryBound(to: Int8.self), scales: scales.assumingMemoryBound(to: Float.self),
                               rows: rows, cols: cols, levels: levels, blockSize: block, owner: file)
            return try Int8Weight(m)
        case .U8:
            let parts = try ints("blocks:" + name, 3)
            guard let format = BlockQuantizedWeight.Format(rawValue: parts[0]), let out = Int(parts[1]), let inFeatures = Int(parts[2]),
                  out > 0, inFeatures > 0 else {
                throw bad("blocks '\(parts.joined(separator: ","))'")
            }
            return try BlockQuantizedWeight(blocks: bytes, format: format, out: out, in: inFeatures, borrowingFrom: file, name: name)
        default:
            throw bad("dtype \(info.dtype.rawValue) is not a frozen weight's")
        }
    }
}
