/// Softmax over rows, with the causal variant used by attention.
public enum Softmax {
    /// Largest of `n` > 0 floats.
    @inline(__always) static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let vecEnd = n & ~15
        var m = F16(repeating: -.infinity)
        var i = 0
        while i < vecEnd { let v = load16(x + i); m.replace(with: v, where: v .> m); i += 16 }
        var best = m.max()
        while i < n { if x[i] > best { best = x[i] }; i += 1 }
        return best
    }

    /// out[i] = exp(x[i] − shift) for `n` floats (may alias); returns their sum.
    @inline(__always) static func expShifted(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        let vecEnd = n & ~15
        let sv = F16(repeating: shift)
        var acc = F16()
        var i = 0
        while i < vecEnd { let e = simdExp(load16(x + i) - sv); acc += e; store16(e, out + i); i += 16 }
        if i < n {
            let e = simdExp(loadPartial16(x + i, n - i, pad: shift) - sv)
            storePartial16(e, out + i, n - i)
            for j in 0..<(n - i) { acc[j] += e[j] }
        }
        return acc.sum()
    }

    @inline(__always) static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
        let vecEnd = n & ~15
        let sv = F16(repeating: s)
        var i = 0
        while i < vecEnd { store16(load16(x + i) * sv, x + i); i += 16 }
        while i < n { x[i] *= s; i += 1 }
    }

    /// Softmax in place over one row of `n` > 0 floats.
    public static func forwardRow(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let m = rowMax(x, n)
        let sum = expShifted(x, x, n, shift: m)
        scale(x, n, by: 1 / sum)
    }

    /// The keys query row i (at position `past + i`) sees among `cols`: 0...past+i, or with a
    /// sliding window only the last `window` of those (itself included), as transformers masks them.
    @inline(__always) static func visible(row i: Int, cols: Int, past: Int, window: Int?) -> Range<Int> {
        let hi = min(past + i + 1, cols)
        return max(0, hi - (window ?? hi))..<hi
    }

    /// Causal softmax in place over a [rows, cols] score matrix whose query row i sits at position
    /// `past + i` among `cols` keys: it sees the keys `visible` gives; the other entries become 0.
    public static func causalForward(_ att: UnsafeMutablePointer<Float>, rows: Int, cols: Int, past: Int, window: Int? = nil) {
        for i in 0..<rows {
            let row = att + i * cols
            let keys = visible(row: i, cols: cols, past: past, window: window)
            if keys.lowerBound > 0 { row.update(repeating: 0, count: keys.lowerBound) }
            forwardRow(row + keys.lowerBound, count: keys.count)
            if keys.upperBound < cols { (row + keys.upperBound).update(repeating: 0, count: cols - keys.upperBound) }
        }
    }

    /// Backward of `causalForward`: on entry `datt` holds dL/dP, on exit dL/dScores (in place).
    ///   dS_ij = P_ij · (dP_ij − Σ_k P_ik dP_ik); masked entries become 0.
    public static func causalBackward(_ datt: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>,
                                      rows: Int, cols: Int, past: Int, window: Int? = nil) {
        for i in 0..<rows {
            let keys = visible(row: i, cols: cols, past: past, window: window)
            backwardRow(datt + i * cols, probs + i * cols, keys: keys, cols: cols)
        }
    }

    /// One row of the softmax backward over its visible `keys` among `cols`; the rest become 0.
    @inline(__always) static func backwardRow(_ row: UnsafeMutablePointer<Float>, _ prow: UnsafePointer<Float>,
                                              keys: Range<Int>, cols: Int) {
        let lo = keys.lowerBound
        if lo > 0 { row.update(repeating: 0, count: lo) }
        let d = row + lo, p = prow + lo
        let n = keys.count, rest = cols - keys.upperBound
        let vecEnd = n & ~15
        var acc = F16()
        var j = 0
        while j < vecEnd { acc = acc.addingProduct(load16(p + j), load16(d + j)); j += 16 }
        var dot = acc.sum()
        while j < n { dot += p[j] * d[j]; j += 1 }
        let dv = F16(repeating: dot)
        j = 0
        while j < vecEnd { store16(load16(p + j) * (load16(d + j) - dv), d + j); j += 16 }
        while j < n { d[j] = p[j] * (d[j] - dot); j += 1 }
        if rest > 0 { (d + n).update(repeating: 0, count: rest) }
    }

    // Packed examples (`AttentionSegments`). The score block is [rows, n] with row stride `ld`;
    // its column c holds key `firstKey + c` (the block skips keys no row of it sees); row i is the
    // query at position `firstRow + i`, whose example starts at key `segmentStart[i]`.

    /// The keys (absolute positions, below `end`) the query at `pos` sees: its own example's, from
    /// `segmentStart` on, and of those only the last `window` with a sliding window.
    @inline(__always) static func visible(pos: Int, end: Int, window: Int?, segmentStart: Int) -> Range<Int> {
        let hi = min(pos + 1, end)
        return max(segmentStart, hi - (window ?? hi))..<hi
    }

    /// `causalForward` for packed examples (see above); entries a row does not see become 0.
    public static func segmentedForward(_ att: UnsafeMutablePointer<Float>, rows: Int, cols n: Int, ld: Int,
                                        firstKey k0: Int, firstRow: Int, window: Int?, segmentStart: UnsafePointer<Int>) {
        for i in 0..<rows {
            let row = att + i * ld
            let keys = visible(pos: firstRow + i, end: k0 + n, window: window, segmentStart: segmentStart[i])
            let lo = keys.lowerBound - k0, hi = keys.upperBound - k0
            if lo > 0 { row.update(repeating: 0, count: lo) }
            forwardRow(row + lo, count: hi - lo)
            if hi < n { (row + hi).update(repeating: 0, count: n - hi) }
        }
    }

    /// Backward of `segmentedForward`, in place on `datt` (dL/dP in, dL/dScores out).
    public static func segmentedBackward(_ datt: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, rows: Int,
                                         cols n: Int, ld: Int, firstKey k0: Int, firstRow: Int, window: Int?,
                                         segmentStart: UnsafePointer<Int>) {
        for i in 0..<rows {
            let keys = visible(pos: firstRow + i, end: k0 + n, window: window, segmentStart: segmentStart[i])
            backwardRow(datt + i * ld, probs + i * ld, keys: (keys.lowerBound - k0)..<(keys.upperBound - k0), cols: n)
        }
    }
}
