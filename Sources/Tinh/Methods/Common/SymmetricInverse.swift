/// The inverse of a symmetric positive-definite matrix by Gauss–Jordan elimination with partial
/// pivoting, in Double (small r × r matrices, computed once).
enum SymmetricInverse {
    static func invert(_ matrix: [Double], size r: Int) -> [Double] {
        var m = matrix
        var inv = [Double](repeating: 0, count: r * r)
        for i in 0..<r { inv[i * r + i] = 1 }
        for col in 0..<r {
            var pivot = col
            for row in (col + 1)..<r where abs(m[row * r + col]) > abs(m[pivot * r + col]) { pivot = row }
            if pivot != col {
                for k in 0..<r {
                    m.swapAt(col * r + k, pivot * r + k)
                    inv.swapAt(col * r + k, pivot * r + k)
                }
            }
            let d = m[col * r + col]
            for k in 0..<r { m[col * r + k] /= d; inv[col * r + k] /= d }
            for row in 0..<r where row != col {
                let f = m[row * r + col]
                if f == 0 { continue }
                for k in 0..<r {
                    m[row * r + k] -= f * m[col * r + k]
                    inv[row * r + k] -= f * inv[col * r + k]
                }
            }
        }
        return inv
    }
}
