import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsSafeTensorsTests {
    /// A safetensors file from a raw header string and data bytes.
    static func file(_ header: String, _ data: [UInt8], headerLength: UInt64? = nil) throws -> String {
        let h = Array(header.utf8)
        return try writeTemp(le(headerLength ?? UInt64(h.count)) + h + data, name: "m.safetensors")
    }

    @Test func writeThenReadRoundTrips() throws {
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, 4, 5, 6e-8])
        let b = Tensor(shape: [5], values: [0, 1, 2, 3, 4])
        let s = Tensor(shape: [], values: [42])
        let path = tempDir().appendingPathComponent("x.safetensors").path
        let meta = ["format": "pt", "note": "quote \" back\\slash\nnewline \u{1} é"]
        try SafeTensorsWriter.write(["a.weight": a, "b \"odd\" name": b, "scalar": s], metadata: meta, to: path)
        let st = try SafeTensorsFile(path: path)
        #expect(st.metadata == meta)
        #expect(st.dataOffset % 8 == 0)
        #expect(st.tensors.map(\.name) == ["a.weight", "b \"odd\" name", "scalar"])
        #expect(try st.tensor("a.weight").array == a.array && st.info("a.weight")?.shape == [2, 3])
        #expect(try st.tensor("b \"odd\" name", borrow: true).array == b.array)
        #expect(try st.tensor("scalar").shape == [] && st.tensor("scalar").array == [42])
        // Overwriting is atomic and leaves no temp files behind.
        try SafeTensorsWriter.write(["only": b], to: path)
        #expect(try SafeTensorsFile(path: path).tensors.map(\.name) == ["only"])
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["x.safetensors"])
    }

    @Test func borrowedTensorsShareTheMappingButNeverWriteTheFile() throws {
        let path = tempDir().appendingPathComponent("w.safetensors").path
        try SafeTensorsWriter.write(["w": Tensor(shape: [4], values: [1, 2, 3, 4])], to: path)
        let t = try SafeTensorsFile(path: path).tensor("w", borrow: true)
        t[0] = 99  // private copy-on-write page
        #expect(t.array == [99, 2, 3, 4])
        #expect(try SafeTensorsFile(path: path).tensor("w").array == [1, 2, 3, 4])
    }

    @Test func readsF16AndBF16() throws {
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}"#
        let st = try SafeTensorsFile(path: try Self.file(header, halfBits(1.5) + halfBits(-0.25) + [0x80, 0x3F, 0x20, 0x41]))
        #expect(try st.tensor("h").array == [1.5, -0.25] && st.tensor("b").array == [1, 10])
        let i = try SafeTensorsFile(path: try Self.file(#"{"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, [1, 0, 0, 0]))
        #expect(message { try i.tensor("i") }?.contains("dtype I32") == true)
    }

    @Test func overlappingOffsets() throws {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(message { try SafeTensorsFile(path: try Self.file(h, [UInt8](repeating: 0, count: 12))) }?
            .contains("tensors 'a' and 'b' overlap") == true)
    }

    @Test func gapsAndTrailingBytes() throws {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(message { try SafeTensorsFile(path: try Self.file(gap, [UInt8](repeating: 0, count: 8))) }?.contains("gap") == true)
        let short = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(message { try SafeTensorsFile(path: try Self.file(short, [UInt8](repeating: 0, count: 8))) }?
            .contains("4 bytes after the last tensor") == true)
    }

    @Test func headerLongerThanFile() throws {
        let h = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let m = message { try SafeTensorsFile(path: try Self.file(h, [0, 0, 0, 0], headerLength: 1_000)) }
        #expect(m?.contains("header length is 1000") == true)
        #expect(message { try SafeTensorsFile(path: try Self.file(h, [], headerLength: 1 << 62)) }?.contains("header length") == true)
        #expect(message { try SafeTensorsFile(path: try writeTemp([1, 2, 3])) }?.contains("truncated") == true)
    }

    @Test func badDtypeAndInconsistentEntries() throws {
        let zeros = [UInt8](repeating: 0, count: 8)
        func err(_ entry: String) throws -> String? {
            message { try SafeTensorsFile(path: try Self.file(#"{"a":"# + entry + "}", zeros)) }
        }
        #expect(try err(#"{"dtype":"F33","shape":[2],"data_offsets":[0,8]}"#)?.contains("unknown dtype 'F33'") == true)
        #expect(try err(#"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#)?.contains("needs 12") == true)
        #expect(try err(#"{"dtype":"F32","shape":[2],"data_offsets":[0,16]}"#)?.contains("needs 8") == true)
        #expect(try err(#"{"dtype":"F16","shape":[2],"data_offsets":[4,8],"x":1}"#)?.contains("gap") == true)
        #expect(try err(#"{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}"#)?.contains("negative") == true)
        #expect(try err(#"{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}"#)?.contains("not valid safetensors JSON") == true)
        #expect(try err(#"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#)?.contains("begin <= end") == true)
        #expect(try err(#"{"dtype":"F32","shape":[2]}"#)?.contains("data_offsets") == true)
        #expect(try err(#"{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}"#)?.contains("overflows") == true)
        let pastEnd = #"{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"#
        #expect(try err(pastEnd)?.contains("run past the data section") == true)
    }

    @Test func badJSONAndMetadata() throws {
        #expect(message { try SafeTensorsFile(path: try Self.file("[1]     ", [])) }?.contains("does not start with '{'") == true)
        #expect(message { try SafeTensorsFile(path: try Self.file("{\"a\":", [])) }?.contains("not valid safetensors JSON") == true)
        let meta = #"{"__metadata__":{"n":1}}"#
        #expect(message { try SafeTensorsFile(path: try Self.file(meta, [])) }?.contains("__metadata__") == true)
        // An empty file set is valid: just metadata, no tensors.
        let ok = try SafeTensorsFile(path: try Self.file(#"{"__metadata__":{"format":"pt"}}"#, []))
        #expect(ok.tensors.isEmpty && ok.metadata == ["format": "pt"])
    }

    @Test func everyTruncationIsAnError() throws {
        let path = tempDir().appendingPathComponent("t.safetensors").path
        try SafeTensorsWriter.write(["a": Tensor(shape: [3], values: [1, 2, 3]), "b": Tensor(shape: [1], values: [4])], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for n in 0 ..< bytes.count {
            let cut = try writeTemp(Array(bytes.prefix(n)))
            #expect(throws: TinhError.self) { try SafeTensorsFile(path: cut) }
        }
    }
}
