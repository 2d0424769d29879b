import Foundation

/// Softmax cross-entropy over rows of logits. A row counts when its target is ≥ 0 (negative
/// targets, e.g. -100, are `ignore` positions) and its loss-mask entry is on (when a mask is given).
public enum CrossEntropy {
    public static let ignoreIndex: Int32 = -100

    /// Summed loss over counted rows and how many rows counted. Writes `lse` [rows], the per-row
    /// log-sum-exp that backward reuses (0 for rows that do not count). If `predictions` is given,
    /// it receives each row's argmax (for token accuracy). Targets must be < vocab.
    public static func forward(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, mask: UnsafePointer<Bool>?,
        lse: UnsafeMutablePointer<Float>, predictions: UnsafeMutablePointer<Int32>? = nil,
        rows: Int, vocab: Int
    ) -> (loss: Double, count: Int) {
        var total = 0.0
        var count = 0
        let vecEnd = vocab & ~15
        for r in 0..<rows {
            let row = logits + r * vocab
            if let predictions { predictions[r] = Int32(argmax(row, vocab)) }
            let t = Int(targets[r])
            guard t >= 0, mask?[r] ?? true else { lse[r] = 0; continue }
            precondition(t < vocab, "target \(t) outside vocabulary of \(vocab)")
            let m = Softmax.rowMax(row, vocab)
            // Sum of exp(l − m) without storing it.
            let mv = F16(repeating: m)
            var acc = F16()
            var i = 0
            while i < vecEnd { acc += simdExp(load16(row + i) - mv); i += 16 }
            var sum = Double(acc.sum())
            if i < vocab {
                let e = simdExp(loadPartial16(row + i, vocab - i, pad: m) - mv)
                for j in 0..<(vocab - i) { sum += Double(e[j]) }
            }
            let l = Double(m) + log(sum)
            lse[r] = Float(l)
            total += l - Double(row[t])
            count += 1
        }
        return (total, count)
    }

    /// dlogits = scale · (softmax(logits) − onehot(target)) for counted rows, 0 for the others.
    /// Overwrites `dlogits`, which may alias `logits` (then no extra [rows, vocab] buffer is needed).
    /// With `softcap` c the logits are capped ones, y = c·tanh(z/c), and dlogits is the gradient
    /// for the uncapped z: times 1 − (y/c)², taken from each logit before it is overwritten.
    public static func backward(
        dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, mask: UnsafePointer<Bool>?, lse: UnsafePointer<Float>,
        rows: Int, vocab: Int, scale: Float, softcap: Float? = nil
    ) {
        if let cap = softcap {
            backwardCapped(dlogits: dlogits, logits: logits, targets: targets, mask: mask, lse: lse,
                           rows: rows, vocab: vocab, scale: scale, cap: cap)
            return
        }
        let vecEnd = vocab & ~15
        for r in 0..<rows {
            let row = logits + r * vocab, d = dlogits + r * vocab
            let t = Int(targets[r])
            guard t >= 0, mask?[r] ?? true else { d.update(repeating: 0, count: vocab); continue }
            let shift = F16(repeating: lse[r]), sv = F16(repeating: scale)
            var i = 0
            while i < vecEnd { store16(simdExp(load16(row + i) - shift) * sv, d + i); i += 16 }
            if i < vocab {
                let e = simdExp(loadPartial16(row + i, vocab - i, pad: 0) - shift) * sv
                storePartial16(e, d + i, vocab - i)
            }
            d[t] -= scale
        }
    }

    private static func backwardCapped(
        dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, mask: UnsafePointer<Bool>?, lse: UnsafePointer<Float>,
        rows: Int, vocab: Int, scale: Float, cap: Float
    ) {
        for r in 0..<rows {
            let row = logits + r * vocab, d = dlogits + r * vocab
            let t = Int(targets[r])
            guard t >= 0, mask?[r] ?? true else { d.update(repeating: 0, count: vocab); continue }
            let shift = F16(repeating: lse[r]), sv = F16(repeating: scale)
            let yt = row[t] * (1 / cap), targetSlope = 1 - yt * yt
            var i = 0
            while i < vocab {
                let n = min(16, vocab - i)
                let y = n == 16 ? load16(row + i) : loadPartial16(row + i, n, pad: 0)
                let g = simdExp(y - shift) * sv * Softcap.slope(y, cap: cap)
                if n == 16 { store16(g, d + i) } else { storePartial16(g, d + i, n) }
                i += 16
            }
            d[t] -= scale * targetSlope
        }
    }

    /// Index of the largest of `n` floats (the first one on ties).
    static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        let m = Softmax.rowMax(x, n)
        for i in 0..<n where x[i] == m { return i }
        return 0   // only when the row holds NaNs
    }
}
