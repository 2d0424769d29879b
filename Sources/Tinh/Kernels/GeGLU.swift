/// Gemma's MLP gate: h = gelu(gate) ⊙ up with GELU's tanh approximation, computed as PyTorch's
/// `gelu(approximate="tanh")` does: 0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³))).
public enum GeGLU {
    static let beta: Float = 0.797_884_560_802_865_4   // √(2/π)
    static let kappa: Float = 0.044_715

    @inline(__always) static func inner(_ g: F16) -> F16 {
        F16(repeating: beta) * g.addingProduct(F16(repeating: kappa) * g * g, g)
    }

    /// h[n] = gelu_tanh(gate[n]) · up[n]
    public static func forward(h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        @inline(__always) func block(_ i: Int, _ r: Int) {
            let g = r == 16 ? load16(gate + i) : loadPartial16(gate + i, r, pad: 0)
            let u = r == 16 ? load16(up + i) : loadPartial16(up + i, r, pad: 0)
            let y = F16(repeating: 0.5) * g * (F16(repeating: 1) + simdTanh(inner(g))) * u
            if r == 16 { store16(y, h + i) } else { storePartial16(y, h + i, r) }
        }
        var i = 0
        while i + 16 <= n { block(i, 16); i += 16 }
        if i < n { block(i, n - i) }
    }

    /// dgate = dh·up·gelu′(g), dup = dh·gelu(g), with
    /// gelu′(g) = ½(1 + t) + ½g(1 − t²)·√(2/π)(1 + 3·0.044715·g²), t = tanh(inner). `dgate` may alias `dh`.
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        @inline(__always) func block(_ i: Int, _ r: Int) {
            let one = F16(repeating: 1), half = F16(repeating: 0.5)
            let g = r == 16 ? load16(gate + i) : loadPartial16(gate + i, r, pad: 0)
            let u = r == 16 ? load16(up + i) : loadPartial16(up + i, r, pad: 0)
            let d = r == 16 ? load16(dh + i) : loadPartial16(dh + i, r, pad: 0)
            let t = simdTanh(inner(g))
            let gelu = half * g * (one + t)
            let slope = F16(repeating: beta) * one.addingProduct(F16(repeating: 3 * kappa) * g, g)
            let derivative = half * (one + t) + half * g * (one - t * t) * slope
            let dg = d * u * derivative, du = d * gelu
            if r == 16 { store16(dg, dgate + i); store16(du, dup + i) } else { storePartial16(dg, dgate + i, r); storePartial16(du, dup + i, r) }
        }
        var i = 0
        while i + 16 <= n { block(i, 16); i += 16 }
        if i < n { block(i, n - i) }
    }
}
