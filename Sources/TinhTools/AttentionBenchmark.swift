import Foundation
import Tinh

/// The attention core alone, forward + backward, through the blocked GEMM kernel (`Attention`)
/// and the fused flash kernel (`FlashAttention`) on each instruction set this CPU has, taking
/// turns in one process (`tinh attention-bench`).
public enum AttentionBenchmark {
    public struct Row: Codable, Sendable {
        /// "blocked (BLAS)" or "flash avx512" etc.
        public var kernel: String
        /// Median seconds of one forward + backward.
        public var seconds: Double
        /// Attention FLOPs of a forward + backward (the causal pairs only: forward 2 products, backward 4) per second.
        public var gflops: Double
        /// The blocked kernel's time over this one.
        public var speedup: Double
    }

    /// Examples of `lengths` tokens, one per row (all of one length), or, with `packed`, all in
    /// one row of their summed length. Heads, KV heads and head dim as the model's.
    public static func run(lengths: [Int], packed: Bool, heads: Int, kvHeads: Int, headDim: Int, threads: Int,
                           seconds: Double) -> [Row] {
        let seq = packed ? lengths.reduce(0, +) : lengths.max()!
        let batch = packed ? 1 : lengths.count
        var starts: [[Int]] = []
        if packed {
            var s = [0]
            for l in lengths.dropLast() { s.append(s.last! + l) }
            starts = [s]
        } else {
            precondition(Set(lengths).count == 1, "unpacked rows have one length")
            starts = lengths.map { _ in [0] }
        }
        let shape = AttentionShape(batch: batch, seqQ: seq, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                   segments: packed ? AttentionSegments(starts: starts, seq: seq) : nil)
        func tensor(_ n: Int, _ salt: Int) -> Tensor {
            let t = Tensor(shape: [n])
            for i in 0..<n { t[i] = Float((i * 7 + salt) % 23) * 0.02 - 0.22 }
            return t
        }
        let rows = batch * seq
        let q = tensor(rows * shape.qStride, 1), k = tensor(rows * shape.kvStride, 2), v = tensor(rows * shape.kvStride, 3)
        let dy = tensor(rows * shape.qStride, 4)
        let out = Tensor(shape: [rows * shape.qStride]), lse = Tensor(shape: [FlashAttention.lseCount(shape)])
        let dq = Tensor(shape: [rows * shape.qStride]), dk = Tensor(shape: [rows * shape.kvStride]), dv = Tensor(shape: [rows * shape.kvStride])
        let blockedScratch = Tensor(shape: [shape.backwardScratchCount])
        let flashScratch = Tensor(shape: [threads * FlashAttention.scratchCount(shape)])
        var pairs = 0
        for b in 0..<batch {
            let row = starts[b]
            for (i, s) in row.enumerated() {
                let n = (i + 1 < row.count ? row[i + 1] : seq) - s
                pairs += n * (n + 1) / 2
            }
        }
        let flops = 6.0 * 2 * Double(headDim) * Double(heads) * Double(pairs)
        var names = ["blocked (BLAS)"]
        var bodies: [() -> Void] = [{
            Attention.forward(out: out.data, probs: blockedScratch.data, q: q.data, k: k.data, v: v.data, shape: shape, saveProbs: false)
            Attention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: blockedScratch.data, dout: dy.data,
                               q: q.data, k: k.data, v: v.data, shape: shape)
        }]
        for isa in FlashAttention.available {
            names.append("flash \(isa)")
            bodies.append {
                FlashAttention.forward(out: out.data, lse: lse.data, scratch: flashScratch.data, q: q.data, k: k.data, v: v.data,
                                       shape: shape, isa: isa, threads: threads)
                FlashAttention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: flashScratch.data, dout: dy.data,
                                        out: out.data, lse: lse.data, q: q.data, k: k.data, v: v.data, shape: shape,
                                        isa: isa, threads: threads)
            }
        }
        let t = GEMMComparison.medians(seconds, bodies)
        return zip(names, t).map { Row(kernel: $0, seconds: $1, gflops: flops / $1 / 1e9, speedup: t[0] / $1) }
    }
}
