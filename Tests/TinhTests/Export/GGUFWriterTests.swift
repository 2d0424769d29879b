import Foundation
import Testing
@testable import Tinh

/// The writer against the reader: every metadata type, tensor types and alignment read back as
/// written; bad input is refused before a byte is written; a failed write leaves the old file.
@Suite struct GGUFWriterTests {
    static let metadata: [(key: String, value: GGUFValue)] = [
        ("general.architecture", .string("llama")), ("u8", .uint8(200)), ("i8", .int8(-3)), ("u16", .uint16(60000)),
        ("i16", .int16(-30000)), ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("u64", .uint64(1 << 40)),
        ("i64", .int64(-(1 << 40))), ("f32", .float32(0.1)), ("f64", .float64(-2.5e-300)), ("yes", .bool(true)),
        ("text", .string("tiếng Việt ✓")), ("tokens", .array(.string, [.string("a"), .string(""), .string("<|im_end|>")])),
        ("scores", .array(.float32, [.float32(1), .float32(-1)])), ("empty", .array(.int32, [])),
        ("nested", .array(.array, [.array(.uint8, [.uint8(1)]), .array(.uint8, [])])),
    ]

    static func temporaryFile(_ name: String = "t.gguf") throws -> URL {
        let dir = try CheckpointFixture.temporaryDirectory()
        return dir.appendingPathComponent(name)
    }

    @Test func metadataAndTensorsReadBackAsWritten() throws {
        let url = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var rng = SeededGenerator(seed: 3)
        let matrix = Tensor(shape: [3, 64]), vector = Tensor(shape: [5])
        rng.fillNormal(matrix.data, count: matrix.count, std: 1)
        rng.fillNormal(vector.data, count: vector.count, std: 1)
        let tensors = [
            GGUFLoRAExport.f32("m.f32", matrix),
            GGUFWriter.Tensor(name: "m.q8", ne: [64, 3], type: .q8_0) { try GGMLEncode.run(.q8_0, matrix.data, count: matrix.count, into: $0) },
            GGUFWriter.Tensor(name: "v.f16", ne: [5], type: .f16) { try GGMLEncode.run(.f16, vector.data, count: vector.count, into: $0) },
            GGUFWriter.Tensor(name: "v.bf16", ne: [5], type: .bf16) { try GGMLEncode.run(.bf16, vector.data, count: vector.count, into: $0) },
        ]
        try GGUFWriter.write(metadata: Self.metadata, tensors: tensors, to: url.path)
        let g = try GGUFFile(path: url.path)
        #expect(g.version == 3)
        #expect(g.metadataKeys == Self.metadata.map(\.key), "metadata in the given order")
        for (key, value) in Self.metadata { #expect(g.metadata[key] == value, "\(key)") }
        #expect(g.tensors.map(\.name) == ["m.f32", "m.q8", "v.f16", "v.bf16"])
        #expect(g.tensors.allSatisfy { ($0.offset + g.dataOffset) % GGUFWriter.defaultAlignment == 0 }, "every tensor starts aligned")
        #expect(try g.tensor("m.f32").array == matrix.array, "F32 is stored exactly")
        #expect(try g.tensor("m.f32").shape == [3, 64])
        // Q8_0 (ggml's reference): q = round(x/d) with d = amax/127, then d is stored as f16 (relative
        // error ≤ 2⁻¹¹) and decoding multiplies in f32: |x − d₁₆·q| ≤ d/2 + 127·d·2⁻¹¹ + 2u·|x|.
        let q8 = try g.tensor("m.q8").array
        for b in 0..<(matrix.count / 32) {
            let block = Array(matrix.array[(b * 32)..<(b * 32 + 32)])
            let d = Double(block.map(abs).max() ?? 0) / 127
            for j in 0..<32 {
                let bound = d / 2 + 127 * d * 0x1p-11 + 2 * RoundingBound.u * Double(abs(block[j]))
                #expect(abs(Double(q8[b * 32 + j]) - Double(block[j])) <= bound)
            }
        }
        let f16 = try g.tensor("v.f16").array, bf16 = try g.tensor("v.bf16").array
        for i in 0..<5 {
            #expect(f16[i] == Float(Float16(vector.data[i])), "F16: round to nearest")
            #expect(abs(Double(bf16[i]) - Double(vector.data[i])) <= abs(Double(vector.data[i])) * RoundingBound.uBF16, "BF16: within its unit roundoff")
        }
    }

    @Test func refusesBadInputBeforeWriting() throws {
        let url = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let t = Tensor(shape: [1, 33])
        #expect(throws: TinhError.self, "rows of 33 are not Q8_0 blocks") {
            try GGUFWriter.write(metadata: [], tensors: [GGUFWriter.Tensor(name: "x", ne: [33, 1], type: .q8_0) { _ in }], to: url.path)
        }
        #expect(throws: TinhError.invalidInput("GGUF metadata key 'a' appears twice")) {
            try GGUFWriter.write(metadata: [("a", .bool(true)), ("a", .bool(false))], tensors: [], to: url.path)
        }
        #expect(throws: TinhError.invalidInput("GGUF tensor 'x' appears twice")) {
            try GGUFWriter.write(metadata: [], tensors: [GGUFLoRAExport.f32("x", t), GGUFLoRAExport.f32("x", t)], to: url.path)
        }
        #expect(throws: TinhError.self, "an array whose elements are not its type") {
            try GGUFWriter.write(metadata: [("a", .array(.int32, [.string("no")]))], tensors: [], to: url.path)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path), "nothing was written")
    }

    /// A full disk (injected) in the middle of the tensor data: an error, the previous file intact, no temporary left.
    @Test func aFullDiskLeavesThePreviousFile() throws {
        let url = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let t = Tensor(shape: [64, 64])
        try GGUFWriter.write(metadata: [("version", .uint32(1))], tensors: [GGUFLoRAExport.f32("w", t)], to: url.path)
        let before = try Data(contentsOf: url)
        #expect(throws: TinhError.self) {
            try GGUFWriter.write(metadata: [("version", .uint32(2))], tensors: [GGUFLoRAExport.f32("w", t)], to: url.path,
                                 budget: WriteBudget(bytes: 8 * 1024))
        }
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["t.gguf"])
    }

    /// HF → GGUF names invert the loader's GGUF → HF for every tensor of every family.
    @Test(arguments: ArchitectureSpec.Family.allCases)
    func tensorNamesRoundTrip(family: ArchitectureSpec.Family) throws {
        var config = TinyLlama.config
        config.spec = ArchitectureSpec(family: family)
        config.spec.projections = family == .phi3 ? .fused : .separate
        config.spec.qkNorm = family == .qwen3 || family == .gemma3
        config.spec.outputNorms = family == .gemma2 || family == .gemma3
        config.tieWordEmbeddings = false
        for hf in DecoderWeightNames.expectedShapes(config).keys.sorted() {
            let gguf = try #require(GGUFModelLoader.ggufName(hf, family: family), "\(family): \(hf) has a GGUF name")
            #expect(GGUFModelLoader.hfName(gguf, family: family) == hf, "\(family): \(hf) → \(gguf) → back")
        }
        #expect(GGUFModelLoader.ggufName("model.layers.0.self_attn.rotary.weight", family: family) == nil)
    }
}
