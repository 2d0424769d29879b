/// ggml block formats decoded to Float32. Each function reads exactly `count` elements' worth of
/// blocks from `src` (the caller has checked that those bytes exist and `count` is a whole
/// number of blocks). Tight loops over raw pointers: no per-element allocation.
enum Dequantize {
    /// Decodes `count` elements of `type`; the caller has verified `type.canDequantize`.
    static func run(_ type: GGMLType, src: UnsafeRawPointer, dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)  // src may be unaligned
        case .f16: f16(src, dst, count)
        case .bf16: bf16(src, dst, count)
        case .q8_0: q8_0(src, dst, count)
        case .q4_0: q4_0(src, dst, count)
        case .q4_1: q4_1(src, dst, count)
        case .q6_K: q6_K(src, dst, count)
        default: preconditionFailure("Dequantize.run called with \(type)")
        }
    }

    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        floatFromHalfBits(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian)
    }

    static func f16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        if Int(bitPattern: src) % 2 == 0 {  // the usual case; typed loads let the loop vectorize
            let h = src.assumingMemoryBound(to: UInt16.self)
            for i in 0 ..< n { dst[i] = floatFromHalfBits(UInt16(littleEndian: h[i])) }
        } else {
            for i in 0 ..< n { dst[i] = half(src, 2 * i) }
        }
    }

    static func bf16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        if Int(bitPattern: src) % 2 == 0 {
            let h = src.assumingMemoryBound(to: UInt16.self)
            for i in 0 ..< n { dst[i] = floatFromBFloat16Bits(UInt16(littleEndian: h[i])) }
        } else {
            for i in 0 ..< n {
                dst[i] = floatFromBFloat16Bits(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        }
    }

    /// Q8_0: 32 elements = f16 scale d, then 32 int8; x = d * q.
    static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0 ..< n / 32 {
            let block = src + b * 34
            let d = half(block, 0)
            let qs = (block + 2).assumingMemoryBound(to: Int8.self)
            let y = dst + b * 32
            for j in 0 ..< 32 { y[j] = d * Float(qs[j]) }
        }
    }

    /// Q4_0: 32 elements = f16 d, then 16 bytes; low nibbles are elements 0..15, high 16..31; x = d * (q - 8).
    static func q4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0 ..< n / 32 {
            let block = src + b * 18
            let d = half(block, 0)
            let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0 ..< 16 {
                y[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
                y[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
            }
        }
    }

    /// Q4_1: 32 elements = f16 d, f16 m, then 16 bytes of nibbles as in Q4_0; x = d * q + m.
    static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0 ..< n / 32 {
            let block = src + b * 20
            let d = half(block, 0)
            let m = half(block, 2)
            let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0 ..< 16 {
                y[j] = d * Float(qs[j] & 0x0F) + m
                y[j + 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    /// Q6_K: 256 elements = ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d.
    /// Each half of 128 elements uses 64 ql, 32 qh and 8 scales; one scale covers 16 elements.
    /// x = d * scale * (q - 32) with q a 6-bit value.
    static func q6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0 ..< n / 256 {
            let block = src + b * 210
            let d = half(block, 208)
            for h in 0 ..< 2 {
                let ql = (block + h * 64).assumingMemoryBound(to: UInt8.self)
                let qh = (block + 128 + h * 32).assumingMemoryBound(to: UInt8.self)
                let sc = (block + 192 + h * 8).assumingMemoryBound(to: Int8.self)
                let y = dst + b * 256 + h * 128
                for l in 0 ..< 32 {
                    let s = l / 16
                    let hb = Int32(qh[l])
                    let q1 = Int32(ql[l] & 0x0F) | ((hb & 3) << 4)
                    let q2 = Int32(ql[l + 32] & 0x0F) | (((hb >> 2) & 3) << 4)
                    let q3 = Int32(ql[l] >> 4) | (((hb >> 4) & 3) << 4)
                    let q4 = Int32(ql[l + 32] >> 4) | (((hb >> 6) & 3) << 4)
                    y[l] = d * Float(sc[s]) * Float(q1 - 32)
                    y[l + 32] = d * Float(sc[s + 2]) * Float(q2 - 32)
                    y[l + 64] = d * Float(sc[s + 4]) * Float(q3 - 32)
                    y[l + 96] = d * Float(sc[s + 6]) * Float(q4 - 32)
                }
            }
        }
    }
}
