import Foundation
import Testing
@testable import Tinh

/// GGUF projections stored as Q4_0 are kept as they are with --base-precision q4: borrowed from
/// the mapping (q/k rows un-permuted into a copy), and the model computes exactly what the f32
/// load of the same file computes.
@Suite struct QuantizedGGUFTests {
    /// A 1-layer llama (hidden 64, 4 heads / 2 KV heads × 16, MLP 128) whose projections are
    /// Q4_0 blocks of random weights, q/k rows permuted as llama.cpp's converter does.
    static func file() throws -> String {
        var d = TestData(seed: 41)
        let (hidden, inter, vocab, heads, kv, hd) = (64, 128, 32, 4, 2, 16)
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(UInt32(hidden))), ("llama.feed_forward_length", .uint32(UInt32(inter))),
            ("llama.block_count", .uint32(1)), ("llama.attention.head_count", .uint32(UInt32(heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kv))), ("llama.context_length", .uint32(128)),
            ("tokenizer.ggml.tokens", .array(.string, (0 ..< vocab).map { .string("t\($0)") })),
        ]
        func f32(_ name: String, _ shape: [Int], ones: Bool = false) {
            b.addF32(name, shape: shape, values: ones ? [Float](repeating: 1, count: shape.reduce(1, *)) : d.normal(shape.reduce(1, *), std: 0.05))
        }
        func q4(_ name: String, _ shape: [Int], permuteHeads: Int? = nil) throws {
            var t = d.tensor(shape, std: 0.05)
            if let h = permuteHeads { t = try RopePermutation.permute(t, heads: h) }
            let w = try BlockQuantizedWeight(quantizing: t, format: .q4_0)
            b.add(name, ne: shape.reversed(), type: .q4_0, data: Array(UnsafeRawBufferPointer(start: w.bytes, count: w.byteCount)))
        }
        f32("token_embd.weight", [vocab, hidden])
        f32("blk.0.attn_norm.weight", [hidden], ones: true)
        f32("blk.0.ffn_norm.weight", [hidden], ones: true)
        f32("output_norm.weight", [hidden], ones: true)
        try q4("blk.0.attn_q.weight", [heads * hd, hidden], permuteHeads: heads)
        try q4("blk.0.attn_k.weight", [kv * hd, hidden], permuteHeads: kv)
        try q4("blk.0.attn_v.weight", [kv * hd, hidden])
        try q4("blk.0.attn_output.weight", [hidden, heads * hd])
        try q4("blk.0.ffn_gate.weight", [inter, hidden])
        try q4("blk.0.ffn_up.weight", [inter, hidden])
        try q4("blk.0.ffn_down.weight", [hidden, inter])
        return try b.write("q4.gguf")
    }

    static func model(_ g: GGUFFile, _ precision: BasePrecision) throws -> DecoderModel {
        let (config, weights, frozen) = try GGUFModelLoader.load(g, basePrecision: precision)
        return try DecoderModel(config: config, weights: weights, frozen: frozen)
    }

    @Test func q4KeepsTheFileBlocksAndComputesWhatF32Computes() throws {
        let g = try GGUFFile(path: try Self.file())
        let tokens: [Int32] = [1, 7, 30, 4, 12]
        let f32 = try Self.model(g, .f32).logits(tokens: tokens).array
        let q4 = try Self.model(g, .q4)
        #expect(try q4.logits(tokens: tokens).array.map(\.bitPattern) == f32.map(\.bitPattern))
        let mapping = g.file.bytes
        for linear in q4.blocks[0].linears {
            let w = try #require(linear.weight as? BlockQuantizedWeight)
            #expect(w.format == .q4_0)
            let inFile = w.bytes >= UnsafeRawPointer(mapping.baseAddress!) && w.bytes < UnsafeRawPointer(mapping.baseAddress!) + mapping.count
            // q and k were un-permuted into copies; the others are the file's bytes.
            #expect(inFile == !(linear === q4.blocks[0].projection("q_proj")! || linear === q4.blocks[0].projection("k_proj")!), "\(linear.name)")
        }
        // nf4 and q8 requantize the decoded values.
        for precision in [BasePrecision.nf4, .q8] {
            let m = try Self.model(g, precision)
            #expect(m.blocks[0].projection("q_proj")!.weight.precision == precision)
            let l = try m.logits(tokens: tokens).array
            let worst = zip(l, f32).map { abs($0 - $1) }.max()!, scale = f32.map(abs).max()!
            #expect(worst < 0.2 * scale, "\(precision): logits differ by \(worst) (largest \(scale))")
        }
    }
}
