/// Global L2 norm of a flat gradient buffer and clipping to a maximum norm.
public enum GradientNorm {
    /// √(Σ g²), accumulated in Double so the norm of millions of entries stays exact enough to
    /// be the same on every rank.
    public static func l2(_ g: UnsafePointer<Float>, count: Int) -> Double {
        var total: Double = 0
        var i = 0
        let w = 16
        while i + w <= count {
            let x = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            total += Double((x * x).sum())
            i += w
        }
        while i < count { total += Double(g[i] * g[i]); i += 1 }
        return total.squareRoot()
    }

    /// Multiplies `g` by `scale` and then scales it so its norm is at most `maxNorm` (no clipping
    /// when it already is, or maxNorm ≤ 0), in one pass over `g` after the norm's. Returns the norm
    /// after `scale`, before clipping. The trainer's 1/token-count normalisation rides in `scale`.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float, scale: Float = 1) -> Double {
        let norm = l2(g, count: count) * Double(scale)
        var factor = Double(scale)
        if maxNorm > 0, norm > Double(maxNorm), norm.isFinite { factor *= Double(maxNorm) / (norm + 1e-6) }
        if factor != 1 {
            let f = Float(factor)
            for i in 0..<count { g[i] *= f }
        }
        return norm
    }
}
