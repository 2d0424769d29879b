/// How the frozen base's projection weights (q, k, v, o, gate, up, down of every block) are held
/// in memory. Embeddings, the LM head and the norms always stay f32, as bitsandbytes leaves them.
///
/// - f32: plain Float32 (borrowed from a mapping or owned); the GEMM reads it directly.
/// - nf4: QLoRA's 4-bit NormalFloat, blocks of 64, double-quantized scales (`NF4`).
/// - q8:  ggml's Q8_0 (32 int8 + an f16 scale); a tensor stored as Q8_0 in a GGUF file is kept as is.
/// - q4:  ggml's Q4_0/Q4_1 as the GGUF file has them (kept as is); anything else is quantized to Q4_0.
/// - bf16: bfloat16 (`BF16Weight`), on any CPU. With AMX or AVX512-BF16, multiplied by oneDNN's bf16
///   GEMM with f32 accumulation, and the LM head is held in bf16 too, since it is the largest GEMM;
///   elsewhere widened to f32 per layer like a quantized base (half the memory, f32 speed).
/// - int8: int8 codes with a scale per row and block of ≤ 256 input columns (`Int8Weight`), for CPUs
///   without bf16 arithmetic: both GEMMs run on oneDNN's int8 matmul (AVX2, VNNI or AMX, chosen at
///   run time), one per block, with x or dy quantized on the fly, int32 sums, f32 scales; the LM
///   head is held in int8 too.
///
/// Quantized weights are dequantized into one scratch buffer the model shares right before each
/// GEMM (`BlockQuantizedWeight`); compute stays fp32. bf16 weights need no dequantizing: their
/// GEMMs read them as they are.
public enum BasePrecision: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case f32, nf4, q8, q4, bf16, int8

    public var description: String { rawValue }

    public static func parse(_ text: String) throws -> BasePrecision {
        guard let p = BasePrecision(rawValue: text.lowercased()) else {
            throw TinhError.invalidInput("--base-precision '\(text)': choose from \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return p
    }

    /// Whether `hfName` (e.g. "model.layers.3.mlp.up_proj.weight") is one of the tensors a base
    /// precision applies to: a block's projection weight (not its bias, norms, embedding or head).
    public static func appliesTo(_ hfName: String) -> Bool {
        guard hfName.hasPrefix("model.layers."), hfName.hasSuffix(".weight") else { return false }
        return AdapterConfig.moduleNames.values.contains { hfName.hasSuffix("." + $0 + ".weight") }
    }
}
