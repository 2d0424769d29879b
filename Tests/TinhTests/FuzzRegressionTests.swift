import Foundation
import Testing
@testable import Tinh

/// Inputs `launch/fuzz` found or that it is built around, kept as regression tests; and the rule
/// that a parser never allocates what a file merely declares.
@Suite struct FuzzRegressionTests {
    /// fuzz-tokenizer's first finding: byte 0x16 (in "...\0\0\u{16}weighv") has no byte-level token in
    /// SmolLM2's vocabulary, so it becomes the unknown token (id 0, "<|endoftext|>") as in Hugging
    /// Face, and the text cannot round-trip. Tinh reports such bytes (`bytesWithoutToken`); a
    /// vocabulary with every byte (tiny's) round-trips the same input exactly.
    static let tokenizerInput: [UInt8] = Array("def f it's, we'll, I5.ffn_down.".utf8) + [0, 0, 0, 0, 0, 0, 0, 0x16] + Array("weighv".utf8)

    @Test func textWithEveryByteTokenizedRoundTrips() throws {
        let tiny = try Tokenizer.tiny()
        #expect(tiny.bytesWithoutToken.isEmpty)
        let text = String(decoding: Self.tokenizerInput, as: UTF8.self)
        for parseSpecial in [false, true] {
            #expect(Array(tiny.decode(tiny.encode(text, parseSpecial: parseSpecial)).utf8) == Self.tokenizerInput)
        }
    }

    @Test func smolLM2BytesWithoutTokenBecomeTheUnknownToken() throws {
        guard let smol = try TokenizerFixtures.smolLM2(for: "smolLM2BytesWithoutTokenBecomeTheUnknownToken") else { return }
        #expect(smol.bytesWithoutToken.contains(0x16), "\(smol.bytesWithoutToken)")
        let ids = smol.encode(String(decoding: Self.tokenizerInput, as: UTF8.self), parseSpecial: false)
        #expect(ids.contains(0), "\(ids)")
    }

    /// A 1 KiB safetensors file whose header declares a 4 GiB tensor: an error at open, before any allocation.
    @Test func safetensorsSizesAreCheckedAgainstTheFile() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}"#
        let path = try FormatsSafeTensorsTests.file(header, [UInt8](repeating: 0, count: 1000))
        let m = message { try SafeTensorsFile(path: path) }
        #expect(m != nil, "a 4 GiB tensor in a 1 KiB file was accepted")
        // A header length larger than the file.
        let lying = try FormatsSafeTensorsTests.file(#"{}"#, [], headerLength: 1 << 40)
        #expect(message { try SafeTensorsFile(path: lying) }?.contains("header length") == true)
    }

    /// The same for GGUF, read from memory as the fuzzer does: the tensor table is checked against
    /// the file's size at open, and counts (tensors, metadata, array elements) against the bytes left.
    @Test func ggufSizesAreCheckedAgainstTheFile() throws {
        var g = GGUFBuilder()
        g.add("t", ne: [1 << 20, 1 << 10], type: .f32, data: [UInt8](repeating: 0, count: 64))
        let bytes = g.bytes()
        let m = bytes.withUnsafeBytes { raw in message { try GGUFFile(file: MappedFile(copying: raw, path: "liar.gguf")) } }
        #expect(m?.contains("needs 4294967296 bytes") == true, "\(m ?? "accepted")")
        var counts = GGUFBuilder()
        counts.tensorCountOverride = 1 << 40
        let c = counts.bytes().withUnsafeBytes { raw in message { try GGUFFile(file: MappedFile(copying: raw, path: "counts.gguf")) } }
        #expect(c?.contains("tensor count") == true, "\(c ?? "accepted")")
        var array = GGUFBuilder()
        array.metadata = [("a", .array(.uint64, []))]
        var raw = array.bytes()
        // Header 24 bytes, key "a" 9, value type 4, element type 4: the element count is at 41; claim 2^40.
        raw.replaceSubrange(41..<49, with: le(UInt64(1) << 40))
        let a = raw.withUnsafeBytes { buffer in message { try GGUFFile(file: MappedFile(copying: buffer, path: "array.gguf")) } }
        #expect(a?.contains("element count") == true, "\(a ?? "accepted")")
    }
}
