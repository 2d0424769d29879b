/// Float32 → the GGUF tensor types Tinh writes: F32, F16, BF16 (round to nearest even), and the
/// Q8_0 and Q4_0 blocks of ggml's reference quantizers (`GGMLQuantize`).
public enum GGMLEncode {
    public static let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0]

    /// Encodes `count` floats into `dst`, which holds exactly their bytes in `type`.
    public static func run(_ type: GGMLType, _ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawBufferPointer) throws {
        guard let layout = type.blockLayout, types.contains(type) else {
            throw TinhError.unsupported("writing \(type.name) tensors (Tinh writes \(types.map(\.name).joined(separator: ", ")))")
        }
        guard count % layout.elements == 0, count / layout.elements * layout.bytes == dst.count, let out = dst.baseAddress else {
            if count == 0 { return }
            throw TinhError.invalidInput("\(count) floats do not fill \(dst.count) bytes of \(type.name)")
        }
        switch type {
        case .f32:
            out.copyMemory(from: src, byteCount: count * 4)
        case .f16:
            let h = out.bindMemory(to: UInt16.self, capacity: count)
            for i in 0..<count { h[i] = Float16(src[i]).bitPattern.littleEndian }
        case .bf16:
            BF16GEMM.round(src, into: out.bindMemory(to: UInt16.self, capacity: count), count: count)
        case .q8_0:
            GGMLQuantize.q8_0(src, count: count, into: out)
        default:
            GGMLQuantize.q4_0(src, count: count, into: out)
        }
    }

    /// The type names `--quant` takes.
    public static func parse(_ name: String) throws -> GGMLType {
        guard let t = types.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw TinhError.invalidInput("--quant \(name): Tinh writes \(types.map { $0.name.lowercased() }.joined(separator: ", "))")
        }
        return t
    }

    /// llama.cpp's `general.file_type` (LLAMA_FTYPE_*) for a file whose matrices are `type`.
    static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        default: return 32  // BF16
        }
    }
}
