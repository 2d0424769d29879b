/// Token embedding lookup: out[row] = table[token[row]], table [vocab, dim].
public enum Embedding {
    /// Tokens must be in 0..<vocab (the model validates user input before calling).
    public static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                               table: UnsafePointer<Float>, rows: Int, dim: Int) {
        for r in 0..<rows {
            (out + r * dim).update(from: table + Int(tokens[r]) * dim, count: dim)
        }
    }

    /// dtable[token[row]] += scale·dout[row] (`scale`: the family's embedding scale, Gemma's √hidden).
    /// Only called when the table's gradient was requested: a frozen embedding gets no dW, and token
    /// ids have no gradient.
    public static func backward(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                tokens: UnsafePointer<Int32>, rows: Int, dim: Int, scale: Float = 1) {
        let vecEnd = dim & ~15
        let sv = F16(repeating: scale)
        for r in 0..<rows {
            let d = dtable + Int(tokens[r]) * dim, g = dout + r * dim
            var i = 0
            while i < vecEnd { store16(load16(d + i).addingProduct(load16(g + i), sv), d + i); i += 16 }
            while i < dim { d[i] += scale * g[i]; i += 1 }
        }
    }
}
