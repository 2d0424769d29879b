import Tinh
import Foundation

/// OpenBLAS sgemm against oneDNN's bf16 GEMM on the frozen-weight products y = x·Wᵀ (W [out, in]),
/// timed in one process so the two are comparable (`tinh gemm-bench`).
public enum GEMMComparison {
    public struct Row: Codable, Sendable {
        public var m: Int, k: Int, n: Int
        /// Median GFLOP/s of sgemm (f32 x, f32 W).
        public var sgemmGFLOPS: Double
        /// Median GFLOP/s of the bf16 GEMM alone (x already bf16).
        public var bf16GFLOPS: Double
        /// Median GFLOP/s counting the rounding of x to bf16 before each GEMM, as a Linear does it.
        public var bf16WithRoundingGFLOPS: Double
        /// The oneDNN implementation, e.g. "brg:avx512_core_amx_bf16".
        public var implementation: String
    }

    /// SmolLM2-135M's frozen products for 512 rows (batch 4 × 128): q/o, gate/up, down, LM head.
    public static let smolLM2Shapes: [(m: Int, k: Int, n: Int)] = [(512, 576, 576), (512, 576, 1536), (512, 1536, 576), (512, 576, 49152)]

    /// Runs each shape for about `seconds` (the kernels in turn, at least 3 repetitions each) after a warm-up.
    /// Call `BF16GEMM.requireSupport()` first.
    public static func run(shapes: [(m: Int, k: Int, n: Int)] = smolLM2Shapes, seconds: Double = 1) -> [Row] {
        shapes.map { s in
            let x = Tensor(shape: [s.m, s.k]), w = Tensor(shape: [s.n, s.k]), y = Tensor(shape: [s.m, s.n])
            for i in 0..<x.count { x[i] = Float(i % 17) * 0.01 - 0.08 }
            for i in 0..<w.count { w[i] = Float(i % 13) * 0.02 - 0.12 }
            let w16 = BF16Matrix(w), scratch = BF16Scratch()
            let x16 = scratch.rounded(x.data, count: x.count)
            let flops = 2.0 * Double(s.m * s.k) * Double(s.n)
            // The three kernels take turns, so a machine shared with other work slows each alike.
            let t = medians(seconds, [
                { BLAS.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: x.data, b: w.data, c: y.data) },
                { BF16GEMM.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: x16, b: w16.data, c: y.data) },
                {
                    let a = scratch.rounded(x.data, count: x.count)
                    BF16GEMM.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: a, b: w16.data, c: y.data)
                },
            ])
            let (sgemm, bf16, rounded) = (t[0], t[1], t[2])
            return Row(m: s.m, k: s.k, n: s.n, sgemmGFLOPS: flops / sgemm / 1e9, bf16GFLOPS: flops / bf16 / 1e9,
                       bf16WithRoundingGFLOPS: flops / rounded / 1e9,
                       implementation: BF16GEMM.implementation(.none, .transpose, m: s.m, n: s.n, k: s.k) ?? "unknown")
        }
    }

    /// Median seconds of each body over about `seconds` in all (at least 3 runs each), taking turns,
    /// after one warm-up run each.
    static func medians(_ seconds: Double, _ bodies: [() -> Void]) -> [Double] {
        for body in bodies { body() }
        var times = [[Double]](repeating: [], count: bodies.count)
        let start = monotonicSeconds()
        while times[0].count < 3 || monotonicSeconds() - start < seconds {
            for (i, body) in bodies.enumerated() {
                let t0 = monotonicSeconds()
                body()
                times[i].append(monotonicSeconds() - t0)
            }
        }
        return times.map { $0.sorted()[$0.count / 2] }
    }
}
