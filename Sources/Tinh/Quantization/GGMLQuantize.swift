/// Float32 → ggml blocks, as ggml's reference quantizers (`quantize_row_q8_0_ref`,
/// `quantize_row_q4_0_ref`) do them, for weights that did not come in the wanted format.
/// Decoding is `Dequantize` (the GGUF reader's).
enum GGMLQuantize {
    /// Q8_0: per 32 elements d = absmax / 127 (stored f16), q = round(x / d).
    static func q8_0(_ src: UnsafePointer<Float>, count n: Int, into dst: UnsafeMutableRawPointer) {
        precondition(n % 32 == 0)
        for b in 0..<(n / 32) {
            let x = src + b * 32, block = dst + b * 34
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            let inv = d != 0 ? 1 / d : 0
            block.storeBytes(of: Float16(d).bitPattern.littleEndian, as: UInt16.self)
            let q = (block + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { q[j] = Int8((x[j] * inv).rounded()) }
        }
    }

    /// Q4_0: per 32 elements, m = the element of largest magnitude (with its sign), d = m / −8
    /// (stored f16), q = min(15, ⌊x / d + 8.5⌋); elements 0..15 in the low nibbles, 16..31 high.
    static func q4_0(_ src: UnsafePointer<Float>, count n: Int, into dst: UnsafeMutableRawPointer) {
        precondition(n % 32 == 0)
        for b in 0..<(n / 32) {
            let x = src + b * 32, block = dst + b * 18
            var amax: Float = 0, m: Float = 0
            for j in 0..<32 where abs(x[j]) > amax { amax = abs(x[j]); m = x[j] }
            let d = m / -8
            let inv = d != 0 ? 1 / d : 0
            block.storeBytes(of: Float16(d).bitPattern.littleEndian, as: UInt16.self)
            let q = (block + 2).assumingMemoryBound(to: UInt8.self)
            func nibble(_ v: Float) -> UInt8 { UInt8(min(15, max(0, (v * inv + 8.5).rounded(.down)))) }
            for j in 0..<16 { q[j] = nibble(x[j]) | nibble(x[j + 16]) << 4 }
        }
    }
}
