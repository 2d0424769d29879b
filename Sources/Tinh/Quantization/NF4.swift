/// 4-bit NormalFloat with double-quantized scales, as in QLoRA (Dettmers et al., 2023, §3):
///
/// - Elements in blocks of 64; each block stores its absmax c and one 4-bit code per element, the
///   index of the NF4 level nearest to x / c (the 16 levels below, bitsandbytes' table).
/// - The absmax values are quantized again ("double quantization"): minus their mean (one fp32
///   offset per tensor, as bitsandbytes does), in groups of 256 blocks, each group to int8 with an
///   fp32 step of its own: ĉ = offset + q·step, step = max|c − offset| / 127 over the group.
///   The paper uses 8-bit floats and bitsandbytes a dynamic 8-bit map for q; Tinh uses linear
///   int8, whose error is at most step/2. Cost: 4 + 8/64 + 32/(64·256) ≈ 4.127 bits per element.
///
/// Bounds (tested): |c − ĉ| ≤ step/2, and per element |x − L·ĉ| ≤ c·g + |c − ĉ|, where L is the
/// chosen level and g half the gap between the two levels around x / c (at most `maxHalfGap`).
///
/// Layout of `byteCount(elements:)` bytes: codes [n/2] (two per byte, the first element of a pair
/// in the high nibble, as bitsandbytes packs), scale codes int8 [n/64], padding to 4 bytes,
/// steps fp32 [⌈n/64/256⌉], offset fp32.
public enum NF4 {
    public static let blockSize = 64
    public static let scaleGroupSize = 256

    /// The NF4 levels (QLoRA appendix E / bitsandbytes): quantiles of N(0, 1) scaled to [−1, 1],
    /// with an exact 0.
    public static let levels: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]

    /// Midpoints between neighbouring levels: a value above midpoints[k] is nearer level k+1.
    static let midpoints: [Float] = (0..<15).map { (levels[$0] + levels[$0 + 1]) / 2 }

    /// The largest half gap between neighbouring levels (between −1 and the next one).
    public static let maxHalfGap: Float = (0..<15).map { (levels[$0 + 1] - levels[$0]) / 2 }.max()!

    /// Each byte's two decoded levels (high nibble first), for a table-driven decode.
    static let pairs: [SIMD2<Float>] = (0..<256).map { SIMD2(levels[$0 >> 4], levels[$0 & 15]) }

    struct Layout {
        let elements: Int, blocks: Int, groups: Int
        let scaleCodes: Int, steps: Int, offset: Int, bytes: Int
        init(_ n: Int) {
            elements = n
            blocks = n / NF4.blockSize
            groups = (blocks + NF4.scaleGroupSize - 1) / NF4.scaleGroupSize
            scaleCodes = n / 2
            steps = (scaleCodes + blocks + 3) & ~3
            offset = steps + 4 * groups
            bytes = offset + 4
        }
    }

    public static func byteCount(elements n: Int) -> Int { Layout(n).bytes }

    /// Quantizes `n` floats (n a multiple of 64) into `byteCount(elements: n)` bytes at `dst`.
    /// Each element's code is the number of midpoints below x / c: the nearest level, a value
    /// halfway going to the lower one. Branch-free loops over one block, which LLVM vectorizes.
    public static func quantize(_ src: UnsafePointer<Float>, count n: Int, into dst: UnsafeMutableRawPointer) {
        precondition(n % blockSize == 0, "NF4 needs a multiple of \(blockSize) elements, got \(n)")
        let l = Layout(n)
        let codes = dst.assumingMemoryBound(to: UInt8.self)
        var absmax = [Float](repeating: 0, count: l.blocks)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)
        let index = UnsafeMutablePointer<Int32>.allocate(capacity: blockSize)
        defer { v.deallocate(); index.deallocate() }
        midpoints.withUnsafeBufferPointer { mid in
            for b in 0..<l.blocks {
                let x = src + b * blockSize
                var c: Float = 0
                for j in 0..<blockSize { c = max(c, abs(x[j])) }
                absmax[b] = c
                let inv = c > 0 ? 1 / c : 0
                for j in 0..<blockSize { v[j] = x[j] * inv; index[j] = 0 }
                for k in 0..<mid.count {
                    let m = mid[k]
                    for j in 0..<blockSize { index[j] &+= v[j] > m ? 1 : 0 }
                }
                let out = codes + b * (blockSize / 2)
                for j in 0..<(blockSize / 2) { out[j] = UInt8(truncatingIfNeeded: index[2 * j] << 4 | index[2 * j + 1]) }
            }
        }
        quantizeScales(absmax, layout: l, into: dst)
    }

    /// The double quantization of the block absmax values `c` into the scale section of `dst`.
    static func quantizeScales(_ c: [Float], layout l: Layout, into dst: UnsafeMutableRawPointer) {
        var sum = 0.0
        for v in c { sum += Double(v) }
        let offset = c.isEmpty ? 0 : Float(sum / Double(c.count))
        dst.storeBytes(of: offset, toByteOffset: l.offset, as: Float.self)
        let codes = (dst + l.scaleCodes).assumingMemoryBound(to: Int8.self)
        for g in 0..<l.groups {
            let range = (g * scaleGroupSize)..<min(c.count, (g + 1) * scaleGroupSize)
            var spread: Float = 0
            for i in range { spread = max(spread, abs(c[i] - offset)) }
            let step = spread / 127
            dst.storeBytes(of: step, toByteOffset: l.steps + 4 * g, as: Float.self)
            let inv = step > 0 ? 1 / step : 0
            for i in range { codes[i] = Int8(max(-127, min(127, ((c[i] - offset) * inv).rounded()))) }
        }
    }

    /// The block scales ĉ as stored (after double quantization), one per 64 elements.
    public static func scales(_ src: UnsafeRawPointer, count n: Int) -> [Float] {
        let l = Layout(n)
        let offset = src.load(fromByteOffset: l.offset, as: Float.self)
        let codes = (src + l.scaleCodes).assumingMemoryBound(to: Int8.self)
        return (0..<l.blocks).map { b in
            offset + Float(codes[b]) * src.load(fromByteOffset: l.steps + 4 * (b / scaleGroupSize), as: Float.self)
        }
    }

    /// The 4-bit code of element i (tests).
    public static func code(_ src: UnsafeRawPointer, element i: Int) -> Int {
        let byte = src.load(fromByteOffset: i / 2, as: UInt8.self)
        return Int(i % 2 == 0 ? byte >> 4 : byte & 15)
    }

    /// Decodes `n` elements from `src` (as written by `quantize`) into `dst`.
    public static func dequantize(_ src: UnsafeRawPointer, count n: Int, into dst: UnsafeMutablePointer<Float>) {
        let l = Layout(n)
        let offset = src.load(fromByteOffset: l.offset, as: Float.self)
        let codes = src.assumingMemoryBound(to: UInt8.self)
        let scaleCodes = (src + l.scaleCodes).assumingMemoryBound(to: Int8.self)
        let steps = (src + l.steps).assumingMemoryBound(to: Float.self)
        pairs.withUnsafeBufferPointer { table in
            let pair = table.baseAddress!
            for b in 0..<l.blocks {
                let scale = offset + Float(scaleCodes[b]) * steps[b / scaleGroupSize]
                let inBlock = codes + b * (blockSize / 2)
                let out = UnsafeMutableRawPointer(dst + b * blockSize)
                for j in 0..<(blockSize / 2) {
                    out.storeBytes(of: pair[Int(inBlock[j])] * scale, toByteOffset: 8 * j, as: SIMD2<Float>.self)
                }
            }
        }
    }
}
