import Foundation
import Testing
@testable import Tinh

/// Quantize → dequantize stays within each format's error bound.
@Suite struct QuantizationFormatTests {
    /// Normal values with a few outlier blocks, one all-zero block and more than 256 blocks (two
    /// scale groups), the shape of real weights.
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var d = TestData(seed: seed)
        var x = d.normal(n, std: 0.02)
        for b in stride(from: 3, to: n / 64, by: 37) { x[b * 64 + 5] = 0.9 }  // an outlier every 37 blocks
        for i in 64..<128 { x[i] = 0 }
        return x
    }

    @Test func nf4PicksTheNearestLevelAndStaysWithinItsBound() throws {
        let n = 64 * 300
        let x = Self.values(n, seed: 1)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: NF4.byteCount(elements: n), alignment: 64)
        defer { packed.deallocate() }
        NF4.quantize(x, count: n, into: packed)
        let y = [Float](unsafeUninitializedCapacity: n) { buf, count in
            NF4.dequantize(packed, count: n, into: buf.baseAddress!); count = n
        }
        let scales = NF4.scales(packed, count: n)
        let absmax = (0..<(n / 64)).map { b in x[(b * 64)..<(b * 64 + 64)].map(abs).max()! }
        // Double quantization: |ĉ − c| ≤ step/2, step = max|c − mean| / 127 over each group of 256 blocks.
        let mean = Float(absmax.reduce(0.0) { $0 + Double($1) } / Double(absmax.count))
        for b in absmax.indices {
            let group = (b / 256 * 256)..<min(absmax.count, b / 256 * 256 + 256)
            let step = group.map { abs(absmax[$0] - mean) }.max()! / 127
            #expect(abs(scales[b] - absmax[b]) <= step / 2 * 1.0001 + 1e-9, "block \(b): ĉ \(scales[b]), c \(absmax[b]), step \(step)")
        }
        #expect(y[64..<128].allSatisfy { abs($0) <= 1e-3 }, "an all-zero block decodes to (nearly) zero")
        for i in 0..<n {
            let b = i / 64, c = absmax[b]
            let code = NF4.code(packed, element: i)
            if c > 0 {
                // The chosen level is the nearest to x / c.
                let v = x[i] / c
                let best = NF4.levels.map { abs($0 - v) }.min()!
                #expect(abs(NF4.levels[code] - v) <= best + 1e-6, "element \(i): code \(code) for \(v)")
            }
            let bound = c * NF4.maxHalfGap + abs(c - scales[b]) + 1e-7
            let err = abs(x[i] - y[i])
            #expect(err <= bound, "element \(i): |x − x̂| = \(err) > \(bound)")
        }
        // 4 bits + an 8-bit scale per 64 + fp32 per 256 blocks + the offset.
        #expect(NF4.byteCount(elements: n) == n / 2 + n / 64 + 4 * 2 + 4)
    }

    @Test func q8AndQ4StayWithinTheirBounds() throws {
        let n = 32 * 200
        let x = Self.values(n, seed: 2)
        for format in [BlockQuantizedWeight.Format.q8_0, .q4_0] {
            let w = try BlockQuantizedWeight(quantizing: Tensor(shape: [n / 64, 64], values: x), format: format)
            let y = w.dequantized().array
            for b in 0..<(n / 32) {
                let block = (b * 32)..<(b * 32 + 32)
                let amax = x[block].map(abs).max()!
                // Q8_0: d = amax/127 rounded to f16: |x − q·d̂| ≤ d/2 + 127·|d − d̂| ≤ amax/254 + amax·2⁻¹¹.
                // Q4_0: d = ±amax/8, |x − x̂| ≤ |d̂| (one step, at the clamped end) + f16 rounding.
                let bound = format == .q8_0 ? amax / 254 + amax / 2048 : amax / 8 * 1.002
                for i in block { #expect(abs(x[i] - y[i]) <= bound + 1e-8, "\(format) element \(i): \(x[i]) → \(y[i])") }
            }
            #expect(w.storageBytes == n / 32 * (format == .q8_0 ? 34 : 18))
        }
    }

    @Test func rowsMustHoldWholeBlocks() {
        let t = Tensor(shape: [4, 96])  // 3 blocks of 32, 1.5 of 64
        #expect(throws: TinhError.self) { try BlockQuantizedWeight(quantizing: t, format: .nf4) }
        #expect((try? BlockQuantizedWeight(quantizing: t, format: .q8_0)) != nil)
        #expect(throws: TinhError.self) { try BasePrecision.parse("int3") }
    }

    /// GGUF q/k blocks kept as stored have their rows un-permuted as bytes: the same values as
    /// decoding first and un-permuting the floats.
    @Test func unpermutingRowsOfBlocksEqualsUnpermutingTheValues() throws {
        var d = TestData(seed: 3)
        let (rows, cols, heads) = (16, 64, 2)
        let w = try BlockQuantizedWeight(quantizing: d.tensor([rows, cols]), format: .q4_0)
        let bytes = UnsafeRawBufferPointer(start: w.bytes, count: w.byteCount)
        let moved = try RopePermutation.unpermuteRows(bytes, rows: rows, heads: heads)
        let fromBytes = try moved.withUnsafeBytes {
            try BlockQuantizedWeight(blocks: $0, format: .q4_0, out: rows, in: cols, borrowingFrom: nil).dequantized()
        }
        let fromValues = try RopePermutation.unpermute(w.dequantized(), heads: heads)
        #expect(fromBytes.array == fromValues.array)
    }
}
