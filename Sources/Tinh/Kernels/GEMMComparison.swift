import Foundation

/// OpenBLAS sgemm against oneDNN's bf16 GEMM on the frozen-weight products y = x·Wᵀ (W [out, in]),
/// timed in one process so the two are comparable (`tinh gemm-bench`).
public enum GEMMComparison {
    public struct Row: Codable, Sendable {
        public var m: Int, k: Int, n: Int
        /// Median GFLOP/s of sgemm (f32 x, f32 W).
        public var sgemmGFLOPs: Double
        /// Median GFLOP/s of the bf16 GEMM alone (x already bf16).
        public var bf16GFLOPs: Double
        /// Median GFLOP/s counting the rounding of x to bf16 before each GEMM, as a Linear does it.
        public var bf16WithRoundingGFLOPs: Double
        /// The oneDNN implementation, e.g. "brg:avx512_core_amx_bf16".
        public var implementation: String
    }

    /// SmolLM2-135M's frozen products for 512 rows (batch 4 × 128): q/o, gate/up, down, LM head.
    public static let smolLM2Shapes: [(m: Int, k: Int, n: Int)] = [(512, 576, 576), (512, 576, 1536), (512, 1536, 576), (512, 576, 49152)]

    /// Runs each shape for about `seconds` per kernel (at least 3 repetitions) after a warm-up.
    /// Call `BF16GEMM.requireSupport()` first.
    public static func run(shapes: [(m: Int, k: Int, n: Int)] = smolLM2Shapes, seconds: Double = 1) -> [Row] {
        shapes.map { s in
            let x = Tensor(shape: [s.m, s.k]), w = Tensor(shape: [s.n, s.k]), y = Tensor(shape: [s.m, s.n])
            for i in 0..<x.count { x[i] = Float(i % 17) * 0.01 - 0.08 }
            for i in 0..<w.count { w[i] = Float(i % 13) * 0.02 - 0.12 }
            let w16 = BF16Matrix(w), scratch = BF16Scratch()
            let x16 = scratch.rounded(x.data, count: x.count)
            let flops = 2.0 * Double(s.m * s.k) * Double(s.n)
            let sgemm = median(seconds) {
                BLAS.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: x.data, b: w.data, c: y.data)
            }
            let bf16 = median(seconds) {
                BF16GEMM.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: x16, b: w16.data, c: y.data)
            }
            let rounded = median(seconds) {
                let a = scratch.rounded(x.data, count: x.count)
                BF16GEMM.gemm(.none, .transpose, m: s.m, n: s.n, k: s.k, a: a, b: w16.data, c: y.data)
            }
            return Row(m: s.m, k: s.k, n: s.n, sgemmGFLOPs: flops / sgemm / 1e9, bf16GFLOPs: flops / bf16 / 1e9,
                       bf16WithRoundingGFLOPs: flops / rounded / 1e9,
                       implementation: BF16GEMM.implementation(.none, .transpose, m: s.m, n: s.n, k: s.k) ?? "unknown")
        }
    }

    /// Median seconds of `body` over about `seconds` (at least 3 runs), after one warm-up run.
    static func median(_ seconds: Double, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        let start = monotonicSeconds()
        while times.count < 3 || monotonicSeconds() - start < seconds {
            let t0 = monotonicSeconds()
            body()
            times.append(monotonicSeconds() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }
}
