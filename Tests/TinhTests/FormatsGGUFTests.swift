import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsGGUFTests {
    /// A small valid file with one F32 matrix and one of every metadata type.
    static func sample(version: UInt32 = 3) -> GGUFBuilder {
        var b = GGUFBuilder()
        b.version = version
        b.metadata = [
            ("general.architecture", .string("llama")),
            ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
            ("f32", .float32(1.5)), ("f64", .float64(-2.25)), ("yes", .bool(true)), ("s", .string("héllo ✓")),
            ("ints", .array(.int32, [.int32(1), .int32(-2), .int32(3)])),
            ("strs", .array(.string, [.string("a"), .string(""), .string("Ġ t")])),
            ("nested", .array(.array, [.array(.uint8, [.uint8(1), .uint8(2)]), .array(.uint8, [])])),
            ("empty", .array(.float32, [])),
        ]
        b.addF32("w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        return b
    }

    @Test func readsHeaderMetadataAndTensors() throws {
        let g = try GGUFFile(path: try Self.sample().write())
        #expect(g.version == 3 && g.alignment == 32 && g.architecture == "llama")
        #expect(g.metadataKeys.count == 17 && g.metadataKeys[1] == "u8")
        let m = g.metadata
        #expect(m["u8"]?.int == 200 && m["i8"]?.int == -5 && m["u16"]?.int == 60000 && m["i16"]?.int == -300)
        #expect(m["u32"]?.int == 4_000_000_000 && m["i32"]?.int == -7 && m["u64"]?.int == 1 << 40 && m["i64"]?.int == -(1 << 40))
        #expect(m["f32"]?.float == 1.5 && m["f64"]?.double == -2.25 && m["u8"]?.float == 200)
        #expect(m["yes"]?.bool == true && m["s"]?.string == "héllo ✓" && m["s"]?.int == nil)
        #expect(m["ints"]?.int32Array == [1, -2, 3] && m["ints"]?.intArray == [1, -2, 3])
        #expect(m["strs"]?.stringArray == ["a", "", "Ġ t"] && m["strs"]?.int32Array == nil)
        #expect(m["nested"]?.array?.first?.intArray == [1, 2] && m["nested"]?.array?.count == 2)
        #expect(m["empty"] == .array(.float32, []) && m["empty"]?.floatArray == [])
        #expect(g.tensors.count == 1)
        let info = try #require(g.info("w"))
        #expect(info.ne == [3, 2] && info.shape == [2, 3] && info.type == .f32 && info.byteCount == 24)
        let t = try g.tensor("w")
        #expect(t.shape == [2, 3] && t.array == [1, 2, 3, 4, 5, 6])
        let view = try #require(try g.mappedF32("w"))
        #expect(view.array == [1, 2, 3, 4, 5, 6])
        #expect(try g.rawData("w").bytes.count == 24)
    }

    @Test func readsVersion2() throws {
        let g = try GGUFFile(path: try Self.sample(version: 2).write())
        #expect(g.version == 2 && g.metadata["s"]?.string == "héllo ✓")
    }

    @Test func honoursGeneralAlignment() throws {
        var b = Self.sample()
        b.alignment = 64
        b.metadata.append(("general.alignment", .uint32(64)))
        b.addF32("v", shape: [3], values: [7, 8, 9])
        let g = try GGUFFile(path: try b.write())
        #expect(g.alignment == 64 && g.dataOffset % 64 == 0 && g.info("v")?.offset == 64)
        #expect(try g.tensor("v").array == [7, 8, 9])
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = Self.sample().bytes()
        for n in 0 ..< bytes.count {  // every prefix: an error naming the file, never a trap
            let path = try writeTemp(Array(bytes.prefix(n)), name: "cut.gguf")
            #expect(throws: TinhError.self) { try GGUFFile(path: path) }
        }
        #expect(message { try GGUFFile(path: try writeTemp(Array(bytes.prefix(40)))) }?.contains("truncated or corrupt at offset 8: tensor count is 1") == true)
        let cutData = message { try GGUFFile(path: try writeTemp(Array(bytes.dropLast(4)))) }
        #expect(cutData?.contains("tensor 'w'") == true && cutData?.contains("past the end of the file") == true)
    }

    @Test func corruptedBytesNeverTrap() throws {
        let good = Self.sample().bytes()
        var rng = TestRNG(state: 42)
        for _ in 0 ..< 300 {
            var b = good
            for _ in 0 ..< 3 { b[Int(rng.next() % UInt64(b.count))] = rng.byte() }
            let path = try writeTemp(b)
            if let g = try? GGUFFile(path: path) {  // survived parsing: reading must still be safe
                for t in g.tensors { _ = try? g.tensor(t.name) }
            }
        }
    }

    @Test func wrongMagic() throws {
        var b = Self.sample()
        b.magic = Array("GGML".utf8)
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("not a GGUF file") == true)
    }

    @Test func unsupportedVersions() throws {
        for v: UInt32 in [1, 4] {
            #expect(message { try GGUFFile(path: try Self.sample(version: v).write()) }?
                .contains("unsupported GGUF version \(v)") == true)
        }
    }

    @Test func impossibleTensorSizeFailsBeforeAllocating() throws {
        var b = GGUFBuilder()
        b.add("huge", ne: [1 << 30], type: .f32, data: [0, 0, 0, 0])  // claims 4 GiB in a ~100-byte file
        let m = message { try GGUFFile(path: try b.write()) }
        #expect(m?.contains("'huge'") == true && m?.contains("past the end of the file") == true)
    }

    @Test func overflowingDimensions() throws {
        var b = GGUFBuilder()
        b.add("x", ne: [1 << 40, 1 << 40], type: .f32, data: [])
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("overflows") == true)
        var c = GGUFBuilder()
        c.add("x", ne: [1 << 61], type: .f32, data: [])  // elements fit, bytes do not
        #expect(message { try GGUFFile(path: try c.write()) }?.contains("overflows") == true)
    }

    @Test func tensorOutOfBounds() throws {
        var b = Self.sample()
        b.tensors[0].offsetOverride = 4096
        let m = message { try GGUFFile(path: try b.write()) }
        #expect(m?.contains("tensor 'w'") == true && m?.contains("past the end") == true)
    }

    @Test func misalignedOffset() throws {
        var b = Self.sample()
        b.tensors[0].offsetOverride = 4
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("not a multiple of the alignment") == true)
    }

    @Test func unknownAndUnsupportedTensorTypes() throws {
        var b = GGUFBuilder()
        b.add("mystery", ne: [4], type: GGMLType(rawValue: 99), data: [UInt8](repeating: 0, count: 16))
        b.add("kq", ne: [256], type: .q4_K, data: [UInt8](repeating: 0, count: 144))
        let g = try GGUFFile(path: try b.write())  // inspectable; reading is the error
        let m1 = message { try g.tensor("mystery") }
        #expect(m1?.contains("'mystery'") == true && m1?.contains("unknown (type id 99)") == true)
        let m2 = message { try g.tensor("kq") }
        #expect(m2?.contains("'kq'") == true && m2?.contains("Q4_K") == true && m2?.contains("Q6_K") == true)
        #expect(message { try g.tensor("absent") }?.contains("no tensor named 'absent'") == true)
    }

    @Test func lyingCountsAreRejectedBeforeAllocation() throws {
        var b = Self.sample()
        b.tensorCountOverride = 1 << 50
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("tensor count") == true)
        var c = Self.sample()
        c.kvCountOverride = UInt64.max
        #expect(message { try GGUFFile(path: try c.write()) }?.contains("metadata count") == true)
        var d = GGUFBuilder()
        d.metadata = [("a", .array(.string, [.string("x")]))]
        var bytes = d.bytes()
        // The array count sits after magic, version, counts, key "a", type and element type.
        let at = 4 + 4 + 8 + 8 + 9 + 4 + 4
        bytes.replaceSubrange(at ..< at + 8, with: le(UInt64(1) << 60))
        #expect(message { try GGUFFile(path: try writeTemp(bytes)) }?.contains("element count of 'a'") == true)
    }

    @Test func badMetadata() throws {
        var b = Self.sample()
        b.metadata.append(("general.alignment", .uint32(48)))
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("power of two") == true)
        var c = Self.sample()
        c.metadata.append(("u8", .uint8(1)))
        #expect(message { try GGUFFile(path: try c.write()) }?.contains("duplicate metadata key 'u8'") == true)
        var d = GGUFBuilder()
        d.metadata = [("s", .string("ok"))]
        var bytes = d.bytes()
        bytes[4 + 4 + 8 + 8 + 9 + 4 + 8] = 0xFF  // first byte of the string value: invalid UTF-8
        #expect(message { try GGUFFile(path: try writeTemp(bytes)) }?.contains("not valid UTF-8") == true)
    }

    @Test func emptyFileAndDirectory() throws {
        #expect(message { try GGUFFile(path: try writeTemp([])) }?.contains("too short") == true)
        #expect(message { try GGUFFile(path: tempDir().path) }?.contains("not a regular file") == true)
        #expect(message { try GGUFFile(path: "/nonexistent/x.gguf") }?.contains("cannot open") == true)
    }
}
