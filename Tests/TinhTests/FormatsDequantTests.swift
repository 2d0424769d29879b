import Foundation
import Testing
@testable import Tinh

/// Each quant type is checked against a per-element reference written from the format's
/// definition (independent of the blocked loops in Dequantize), through a real GGUF file.
@Suite struct FormatsDequantTests {
    func roundTrip(_ type: GGMLType, ne: [Int], data: [UInt8]) throws -> [Float] {
        var b = GGUFBuilder()
        b.add("t", ne: ne, type: type, data: data)
        let g = try GGUFFile(path: try b.write())
        let t = try g.tensor("t")
        #expect(t.shape == Array(ne.reversed()))
        // The scratch-buffer path gives the same numbers.
        var scratch = [Float](repeating: .nan, count: t.count)
        try scratch.withUnsafeMutableBufferPointer { try g.dequantize("t", into: $0) }
        #expect(scratch == t.array)
        return t.array
    }

    func f16(_ b: [UInt8], _ at: Int) -> Float { Float(Float16(bitPattern: UInt16(b[at]) | UInt16(b[at + 1]) << 8)) }

    @Test func halfConversionMatchesPortableForEveryBitPattern() {
        for bits in 0 ... UInt16.max {
            let a = floatFromHalfBits(bits), b = floatFromHalfBitsPortable(bits), c = Float(Float16(bitPattern: bits))
            #expect(a.bitPattern == b.bitPattern && (a.bitPattern == c.bitPattern || c.isNaN), "half bits \(bits)")
        }
        #expect(floatFromBFloat16Bits(0x3FC0) == 1.5 && floatFromBFloat16Bits(0xC000) == -2)
    }

    @Test func f16AndBF16() throws {
        let values: [Float] = [0, 1, -2.5, 65504, 0.000061035156, -0.33325195]
        #expect(try roundTrip(.f16, ne: [6], data: values.flatMap(halfBits)) == values)
        let bf: [UInt8] = [0x80, 0x3F, 0x00, 0xC1, 0x49, 0x40]  // 1.0, -8.0, 3.140625
        #expect(try roundTrip(.bf16, ne: [3], data: bf) == [1, -8, 3.140625])
    }

    @Test func q8_0() throws {
        var rng = TestRNG(state: 1)
        var data: [UInt8] = []
        for blk in 0 ..< 3 { data += halfBits(Float(blk) * 0.25 - 0.1) + (0 ..< 32).map { _ in rng.byte() } }
        let got = try roundTrip(.q8_0, ne: [32, 3], data: data)
        for i in 0 ..< 96 {
            let blk = i / 32
            let want = f16(data, blk * 34) * Float(Int8(bitPattern: data[blk * 34 + 2 + i % 32]))
            #expect(got[i] == want, "element \(i)")
        }
    }

    @Test func q4_0() throws {
        var rng = TestRNG(state: 2)
        var data: [UInt8] = []
        for blk in 0 ..< 2 { data += halfBits(0.5 + Float(blk)) + (0 ..< 16).map { _ in rng.byte() } }
        let got = try roundTrip(.q4_0, ne: [64], data: data)
        for i in 0 ..< 64 {
            let blk = i / 32, j = i % 32
            let byte = data[blk * 18 + 2 + j % 16]
            let q = j < 16 ? Int(byte & 15) : Int(byte >> 4)
            #expect(got[i] == f16(data, blk * 18) * Float(q - 8), "element \(i)")
        }
        // A hand-made block: d = 2, bytes 0x8F -> element 0 = (15-8)*2 = 14, element 16 = (8-8)*2 = 0.
        let block = halfBits(2) + [0x8F] + [UInt8](repeating: 0x08, count: 15)
        let v = try roundTrip(.q4_0, ne: [32], data: block)
        #expect(v[0] == 14 && v[16] == 0 && v[1] == 0 && v[17] == -16)
    }

    @Test func q4_1() throws {
        var rng = TestRNG(state: 3)
        var data: [UInt8] = []
        for blk in 0 ..< 2 { data += halfBits(0.125 * Float(blk + 1)) + halfBits(-1.5) + (0 ..< 16).map { _ in rng.byte() } }
        let got = try roundTrip(.q4_1, ne: [32, 2], data: data)
        for i in 0 ..< 64 {
            let blk = i / 32, j = i % 32
            let byte = data[blk * 20 + 4 + j % 16]
            let q = j < 16 ? byte & 15 : byte >> 4
            let want = f16(data, blk * 20) * Float(q) + f16(data, blk * 20 + 2)
            #expect(got[i] == want, "element \(i)")
        }
    }

    @Test func q6_K() throws {
        var rng = TestRNG(state: 4)
        var data: [UInt8] = []
        for blk in 0 ..< 2 {
            data += (0 ..< 192).map { _ in rng.byte() }                                 // ql, qh
            data += (0 ..< 16).map { _ in UInt8(bitPattern: Int8(truncatingIfNeeded: Int(rng.next() % 64) - 32)) }  // scales
            data += halfBits(0.01 * Float(blk + 1))                                     // d
        }
        let got = try roundTrip(.q6_K, ne: [256, 2], data: data)
        for i in 0 ..< 512 {
            let base = (i / 256) * 210, e = i % 256
            let half = e / 128, r = e % 128, group = r / 32, l = r % 32
            let qlByte = data[base + half * 64 + l + (group % 2) * 32]
            let low = group < 2 ? qlByte & 15 : qlByte >> 4
            let high = (data[base + 128 + half * 32 + l] >> (2 * group)) & 3
            let q = Int(low | high << 4) - 32
            let scale = Int8(bitPattern: data[base + 192 + half * 8 + l / 16 + 2 * group])
            let want = f16(data, base + 208) * Float(scale) * Float(q)
            #expect(got[i] == want, "element \(i)")
        }
    }

    @Test func blockSizeMustDivideRows() throws {
        var b = GGUFBuilder()
        b.add("odd", ne: [40], type: .q8_0, data: [UInt8](repeating: 0, count: 68))
        #expect(message { try GGUFFile(path: try b.write()) }?.contains("not a multiple of the Q8_0 block size 32") == true)
    }

    @Test func scratchSizeMismatchIsAnError() throws {
        var b = GGUFBuilder()
        b.addF32("v", shape: [4], values: [1, 2, 3, 4])
        let g = try GGUFFile(path: try b.write())
        var small = [Float](repeating: 0, count: 3)
        #expect(throws: TinhError.self) { try small.withUnsafeMutableBufferPointer { try g.dequantize("v", into: $0) } }
    }
}
