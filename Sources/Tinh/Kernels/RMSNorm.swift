/// RMSNorm with a weight, as in Llama: out = x / sqrt(mean(x²) + eps) ⊙ (w + shift), per row of
/// `dim` floats. `shift` is 0 for Llama and 1 for Gemma, which stores its norm weights as offsets
/// from 1 and computes 1 + w in Float32 just as here.
public enum RMSNorm {
    /// Writes `out` [rows, dim] and the per-row reciprocal RMS `rstd` [rows] that backward needs.
    public static func forward(
        out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, dim: Int, eps: Float, shift: Float = 0
    ) {
        let vecEnd = dim & ~15
        for r in 0..<rows {
            let x = inp + r * dim, y = out + r * dim
            var acc = F16()
            var i = 0
            while i < vecEnd { let v = load16(x + i); acc = acc.addingProduct(v, v); i += 16 }
            var ss = acc.sum()
            while i < dim { ss += x[i] * x[i]; i += 1 }
            let rs = 1 / (ss / Float(dim) + eps).squareRoot()
            rstd[r] = rs
            scaleRow(y, x, weight, rs, dim, shift)
        }
    }

    /// Recomputes `out` from `inp` and the `rstd` a forward saved, bit for bit as that forward wrote it
    /// (so backward can recompute a norm's output instead of keeping it).
    public static func recompute(
        out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, rows: Int, dim: Int, shift: Float = 0
    ) {
        for r in 0..<rows { scaleRow(out + r * dim, inp + r * dim, weight, rstd[r], dim, shift) }
    }

    @inline(__always) static func scaleRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                           _ weight: UnsafePointer<Float>, _ rs: Float, _ dim: Int, _ shift: Float) {
        let vecEnd = dim & ~15
        let rv = F16(repeating: rs), sv = F16(repeating: shift)
        var i = 0
        while i < vecEnd { store16(load16(x + i) * rv * (load16(weight + i) + sv), y + i); i += 16 }
        while i < dim { y[i] = x[i] * rs * (weight[i] + shift); i += 1 }
    }

    /// Accumulates into `dinp` (+=) the gradient through the norm, and into `dweight` (+=) if given.
    ///   dx_j = r·(w_j·dy_j − x_j·r²·Σ_i w_i·dy_i·x_i / dim),  r = rstd.
    public static func backward(
        dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, rows: Int, dim: Int, shift: Float = 0
    ) {
        let vecEnd = dim & ~15
        let sv = F16(repeating: shift)
        for r in 0..<rows {
            let x = inp + r * dim, dy = dout + r * dim, dx = dinp + r * dim
            let rs = rstd[r]
            var acc = F16()
            var i = 0
            while i < vecEnd { acc = acc.addingProduct((load16(weight + i) + sv) * load16(dy + i), load16(x + i)); i += 16 }
            var dot = acc.sum()
            while i < dim { dot += (weight[i] + shift) * dy[i] * x[i]; i += 1 }
            let c = rs * rs * dot / Float(dim)
            let rv = F16(repeating: rs), cv = F16(repeating: -c)
            i = 0
            while i < vecEnd {
                let g = ((load16(weight + i) + sv) * load16(dy + i)).addingProduct(load16(x + i), cv)
                store16(load16(dx + i).addingProduct(g, rv), dx + i)
                i += 16
            }
            while i < dim { dx[i] += rs * ((weight[i] + shift) * dy[i] - x[i] * c); i += 1 }
            if let dw = dweight {
                i = 0
                while i < vecEnd { store16(load16(dw + i).addingProduct(load16(dy + i) * load16(x + i), rv), dw + i); i += 16 }
                while i < dim { dw[i] += dy[i] * x[i] * rs; i += 1 }
            }
        }
    }
}
