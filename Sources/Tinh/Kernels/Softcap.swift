/// tanh for 16 lanes, to a few ulp: an odd Taylor polynomial below |x| = 1/4 (where 1 − 2/(e^2x + 1)
/// would cancel), that formula above it (its error there is ≈ 2u relative, from `simdExp`).
@inline(__always) func simdTanh(_ x: F16) -> F16 {
    var ax = x
    ax.replace(with: -x, where: x .< 0)
    let x2 = ax * ax
    // tanh x = x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − 1382x¹¹/155925 + …; at |x| < 1/4 the next
    // term is below 2⁻³⁰ of x.
    var p = F16(repeating: -1382.0 / 155925.0)
    p = F16(repeating: 62.0 / 2835.0).addingProduct(p, x2)
    p = F16(repeating: -17.0 / 315.0).addingProduct(p, x2)
    p = F16(repeating: 2.0 / 15.0).addingProduct(p, x2)
    p = F16(repeating: -1.0 / 3.0).addingProduct(p, x2)
    let small = ax.addingProduct(ax * x2, p)
    let one = F16(repeating: 1)
    var r = one - F16(repeating: 2) / (simdExp(ax + ax) + one)
    r.replace(with: small, where: ax .< 0.25)
    r.replace(with: -r, where: x .< 0)
    return r
}

/// Soft-capping, y = c·tanh(x/c) (Gemma 2's attention scores and final logits).
public enum Softcap {
    /// x ← c·tanh(x/c) over `n` floats.
    public static func forward(_ x: UnsafeMutablePointer<Float>, count n: Int, cap c: Float) {
        let cv = F16(repeating: c), inv = F16(repeating: 1 / c)
        var i = 0
        while i + 16 <= n { store16(cv * simdTanh(load16(x + i) * inv), x + i); i += 16 }
        if i < n { storePartial16(cv * simdTanh(loadPartial16(x + i, n - i, pad: 0) * inv), x + i, n - i) }
    }

    /// The factor dy/dx = 1 − (y/c)² of a capped value y.
    @inline(__always) static func slope(_ y: F16, cap c: Float) -> F16 {
        let t = y * F16(repeating: 1 / c)
        return F16(repeating: 1) - t * t
    }

    /// d ← d·(1 − (y/c)²) over `n` floats: the gradient through the cap, from its outputs `y`.
    public static func backward(_ d: UnsafeMutablePointer<Float>, capped y: UnsafePointer<Float>, count n: Int, cap c: Float) {
        var i = 0
        while i + 16 <= n { store16(load16(d + i) * slope(load16(y + i), cap: c), d + i); i += 16 }
        if i < n { storePartial16(loadPartial16(d + i, n - i, pad: 0) * slope(loadPartial16(y + i, n - i, pad: 0), cap: c), d + i, n - i) }
    }
}
