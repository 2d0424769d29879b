/// Small SIMD helpers shared by the elementwise kernels. Explicit `addingProduct` so that the
/// x86-64-v3 build emits FMAs; masks with `replace(with:where:)` (stdlib min/max/clamp are slow paths).
typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// Loads `n` < 16 floats, padding the other lanes with `pad`.
@inline(__always) func loadPartial16(_ p: UnsafePointer<Float>, _ n: Int, pad: Float) -> F16 {
    var v = F16(repeating: pad)
    for j in 0..<n { v[j] = p[j] }
    return v
}

@inline(__always) func storePartial16(_ v: F16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for j in 0..<n { p[j] = v[j] }
}

/// e^x for 16 lanes: Cephes-style range reduction x = n·ln2 + r, degree-6 polynomial in r, and 2^n
/// built in the exponent bits. Max relative error ≈ 1e-7 vs `expf`. Inputs are clamped to
/// [-87.3, 88.3], so very negative inputs give ≈ 1e-38 rather than 0 (harmless for softmax).
@inline(__always) func simdExp(_ xIn: F16) -> F16 {
    var x = xIn
    x.replace(with: F16(repeating: 88.3), where: x .> 88.3)
    x.replace(with: F16(repeating: -87.3), where: x .< -87.3)
    // n = round(x·log2 e) by the magic-number trick (exact for |n| < 2^22).
    let magic = F16(repeating: 12_582_912)   // 1.5 · 2^23
    let t = magic.addingProduct(x, F16(repeating: 1.442_695_04))
    let n = t - magic
    // r = x - n·ln2 in two pieces for accuracy.
    var r = x.addingProduct(n, F16(repeating: -0.693_359_375))
    r = r.addingProduct(n, F16(repeating: 2.121_944_4e-4))
    let r2 = r * r
    var p = F16(repeating: 1.987_569_15e-4)
    p = F16(repeating: 1.398_199_95e-3).addingProduct(p, r)
    p = F16(repeating: 8.333_451_9e-3).addingProduct(p, r)
    p = F16(repeating: 4.166_579_59e-2).addingProduct(p, r)
    p = F16(repeating: 1.666_666_55e-1).addingProduct(p, r)
    p = F16(repeating: 5.000_000_12e-1).addingProduct(p, r)
    p = (r + F16(repeating: 1)).addingProduct(p, r2)
    // 2^n: integer n sits in the low mantissa bits of t.
    let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
    let pow2 = unsafeBitCast((ni &+ 127) &<< 23, to: F16.self)
    return p * pow2
}
