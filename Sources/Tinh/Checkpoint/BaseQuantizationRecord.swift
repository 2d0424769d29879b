import Foundation

/// `tinh_base_quantization.json`, written beside an exported adapter whose base was quantized:
/// which precision the frozen base had during training and which tensors it applied to. PEFT
/// does not read it (a separate file, so no PEFT version trips over an unknown config key); it
/// tells a user (and `tinh --adapter`) which base reproduces the trained model.
public struct BaseQuantizationRecord: Codable, Equatable {
    public static let fileName = "tinh_base_quantization.json"

    public var basePrecision: BasePrecision
    public var method: String
    /// The quantized tensors: every block's projection weights.
    public var quantizedModules: [String]
    /// What stayed Float32.
    public var keptFloat32: [String]
    /// The format's parameters, e.g. NF4's block size and double quantization.
    public var format: [String: String]

    enum CodingKeys: String, CodingKey {
        case basePrecision = "base_precision", method, quantizedModules = "quantized_modules"
        case keptFloat32 = "kept_float32", format
    }

    public init(_ config: AdapterConfig) {
        basePrecision = config.resolvedBasePrecision
        method = config.method.name
        quantizedModules = AdapterConfig.targetOrder.compactMap { AdapterConfig.moduleNames[$0].map { String($0.split(separator: ".").last!) } }
        keptFloat32 = ["embed_tokens", "lm_head", "input_layernorm", "post_attention_layernorm", "norm", "biases"]
        switch basePrecision {
        case .nf4:
            format = ["name": "NF4", "block_size": "\(NF4.blockSize)", "double_quant": "true",
                      "scale_quant": "int8 of (absmax - mean), fp32 step per \(NF4.scaleGroupSize) blocks", "compute_dtype": "float32"]
        case .q8: format = ["name": "Q8_0 (ggml)", "block_size": "32", "compute_dtype": "float32"]
        case .q4: format = ["name": "Q4_0/Q4_1 (ggml, as stored in the GGUF file; Q4_0 for other tensors)", "block_size": "32", "compute_dtype": "float32"]
        case .bf16: format = ["name": "BF16", "rounding": "nearest even", "compute_dtype": "bfloat16 inputs, float32 accumulation (oneDNN matmul)"]
        case .int8:
            format = ["name": "INT8", "scales": "one float32 per output row and block of input columns (at most 256, equal widths), symmetric (max |block| / levels)",
                      "levels": "\(Int8GEMM.weightLevels)", "activations": "int8, quantized dynamically: x per row and block forward, dy·scale per row backward",
                      "compute_dtype": "int8 inputs, int32 sums, float32 scales (oneDNN matmul)"]
        case .f32: format = ["name": "F32"]
        }
        if basePrecision == .bf16 || basePrecision == .int8 {  // the LM head is held in bf16/int8 too
            quantizedModules.append("lm_head")
            keptFloat32.removeAll { $0 == "lm_head" }
        }
    }

    /// Writes the record for a quantized base, or removes a stale one for an f32 base.
    static func write(_ config: AdapterConfig, to directory: URL, budget: WriteBudget? = nil) throws {
        let url = directory.appendingPathComponent(fileName)
        guard config.resolvedBasePrecision != .f32 else {
            try? FileManager.default.removeItem(at: url)
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(BaseQuantizationRecord(config)) + Data("\n".utf8), to: url.path, budget: budget)
    }

    /// The record in an adapter directory, if there is one.
    public static func read(directory: String) throws -> BaseQuantizationRecord? {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(BaseQuantizationRecord.self, from: Data(contentsOf: url)) } catch {
            throw TinhError.badFile(path: url.path, reason: "not a base quantization record: \(error)")
        }
    }
}
