import Foundation

/// Rotary position embedding in Hugging Face's rotate_half form: within each head of `headDim`,
/// element i pairs with i + headDim/2 and the pair rotates by angle pos·θ^(−2i/headDim).
/// Tables of cos/sin are precomputed for positions 0..<maxPositions.
public final class RoPE: @unchecked Sendable {
    public let headDim: Int
    public let maxPositions: Int
    let half: Int
    /// [maxPositions, headDim/2]
    let cosTable: Tensor
    let sinTable: Tensor

    /// `scaling` rescales the inverse frequencies for long contexts (`RoPEScaling`; nil: plain RoPE).
    public init(headDim: Int, maxPositions: Int, theta: Float, scaling: RoPEScaling? = nil) {
        precondition(headDim % 2 == 0 && headDim > 0 && maxPositions > 0)
        self.headDim = headDim
        self.maxPositions = maxPositions
        half = headDim / 2
        cosTable = Tensor(shape: [maxPositions, half])
        sinTable = Tensor(shape: [maxPositions, half])
        // As transformers does it: inverse frequencies and angles rounded to Float32, then cos/sin.
        // (At position ~1000 the Float32 angle differs from the exact one by ~1e-4 rad; matching
        // the reference matters more than the exact angle.)
        let plain = (0..<half).map { i in Float(1 / pow(Double(theta), Double(Float(2 * i) / Float(headDim)))) }
        let frequencies = scaling?.apply(to: plain) ?? plain
        for i in 0..<half {
            let invFreq = frequencies[i]
            for p in 0..<maxPositions {
                let angle = Double(Float(p) * invFreq)
                cosTable.data[p * half + i] = Float(cos(angle))
                sinTable.data[p * half + i] = Float(sin(angle))
            }
        }
    }

    /// Rotates `x` in place. `x` is [batch, seq, heads, headDim] (rows of `heads·headDim`, so a
    /// projection's output as is); the token at sequence index t has position `startPos + t`.
    /// The caller guarantees startPos + seq ≤ maxPositions.
    public func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, startPos: Int = 0) {
        apply(x, batch: batch, seq: seq, heads: heads, startPos: startPos, sign: 1)
    }

    /// The backward of `forward` is the inverse rotation (the map is orthogonal); in place on dx.
    public func backward(_ dx: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, startPos: Int = 0) {
        apply(dx, batch: batch, seq: seq, heads: heads, startPos: startPos, sign: -1)
    }

    /// `forward` for packed examples: the token at index t of batch row b has position
    /// t − (its example's start), so positions restart at every example.
    public func forward(_ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, segments: AttentionSegments) {
        applySegmented(x, batch: batch, seq: seq, heads: heads, segments: segments, sign: 1)
    }

    /// The backward of the segmented `forward`: the inverse rotation at the same positions.
    public func backward(_ dx: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, segments: AttentionSegments) {
        applySegmented(dx, batch: batch, seq: seq, heads: heads, segments: segments, sign: -1)
    }

    private func apply(_ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, startPos: Int, sign: Float) {
        precondition(startPos >= 0 && startPos + seq <= maxPositions, "RoPE position out of range")
        let rowWidth = heads * headDim
        for b in 0..<batch {
            for t in 0..<seq {
                rotate(x + (b * seq + t) * rowWidth, position: startPos + t, heads: heads, sign: sign)
            }
        }
    }

    private func applySegmented(_ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int,
                                segments: AttentionSegments, sign: Float) {
        precondition(segments.batch == batch && segments.seq == seq, "segments cover the batch")
        precondition(seq <= maxPositions, "RoPE position out of range")
        let rowWidth = heads * headDim
        segments.tokenStart.withUnsafeBufferPointer { table in
            for b in 0..<batch {
                for t in 0..<seq {
                    rotate(x + (b * seq + t) * rowWidth, position: t - table[b * seq + t], heads: heads, sign: sign)
                }
            }
        }
    }

    /// Rotates one token's `heads` heads by `position`'s angles (the inverse rotation for sign −1).
    @inline(__always) private func rotate(_ row: UnsafeMutablePointer<Float>, position: Int, heads: Int, sign: Float) {
        let vecEnd = half & ~15
        let cosP = cosTable.data + position * half
        let sinP = sinTable.data + position * half
        for h in 0..<heads {
            let lo = row + h * headDim, hi = lo + half
            var i = 0
            while i < vecEnd {
                let c = load16(cosP + i), s = load16(sinP + i) * F16(repeating: sign)
                let a = load16(lo + i), bv = load16(hi + i)
                store16((a * c).addingProduct(-bv, s), lo + i)
                store16((bv * c).addingProduct(a, s), hi + i)
                i += 16
            }
            while i < half {
                let c = cosP[i], s = sinP[i] * sign
                let a = lo[i], bv = hi[i]
                lo[i] = a * c - bv * s
                hi[i] = bv * c + a * s
                i += 1
            }
        }
    }
}
