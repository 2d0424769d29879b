/// The Llama MLP's gate: h = silu(gate) ⊙ up, with silu(g) = g·σ(g).
public enum SwiGLU {
    @inline(__always) static func sigmoid(_ g: F16) -> F16 { F16(repeating: 1) / (F16(repeating: 1) + simdExp(-g)) }

    /// h[n] = silu(gate[n]) · up[n]
    public static func forward(h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        let vecEnd = n & ~15
        var i = 0
        while i < vecEnd {
            let g = load16(gate + i)
            store16(g * sigmoid(g) * load16(up + i), h + i)
            i += 16
        }
        if i < n {
            let r = n - i
            let g = loadPartial16(gate + i, r, pad: 0)
            storePartial16(g * sigmoid(g) * loadPartial16(up + i, r, pad: 0), h + i, r)
        }
    }

    /// dgate = dh·up·σ(g)·(1 + g·(1 − σ(g))),  dup = dh·silu(g). Overwrites dgate and dup;
    /// `dgate` may alias `dh`.
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        @inline(__always) func block(_ i: Int, _ r: Int) {
            let one = F16(repeating: 1)
            let g = r == 16 ? load16(gate + i) : loadPartial16(gate + i, r, pad: 0)
            let u = r == 16 ? load16(up + i) : loadPartial16(up + i, r, pad: 0)
            let d = r == 16 ? load16(dh + i) : loadPartial16(dh + i, r, pad: 0)
            let s = sigmoid(g)
            let dg = d * u * s * one.addingProduct(g, one - s)
            let du = d * g * s
            if r == 16 { store16(dg, dgate + i); store16(du, dup + i) } else { storePartial16(dg, dgate + i, r); storePartial16(du, dup + i, r) }
        }
        var i = 0
        while i + 16 <= n { block(i, 16); i += 16 }
        if i < n { block(i, n - i) }
    }
}
