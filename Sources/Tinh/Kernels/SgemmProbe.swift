/// Measures what this core's sgemm reaches, the roofline that Tinh's speed is compared with.
public enum SgemmProbe {
    public struct Result: Codable, Sendable {
        public var size: Int
        public var threads: Int
        public var repetitions: Int
        /// Best single product; the median is close but noisier on a shared machine.
        public var bestGFLOPS: Double
        public var medianGFLOPS: Double
    }

    /// Repeats an n×n×n product for about `seconds` (at least 3 times) on `threads` BLAS threads.
    public static func measure(size n: Int = 1024, seconds: Double = 1.0, threads: Int = 1) -> Result {
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
        for i in 0..<a.count { a[i] = Float(i % 17) * 0.01; b[i] = Float(i % 13) * 0.02 }
        let savedThreads = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = savedThreads }
        let flops = 2.0 * Double(n) * Double(n) * Double(n)
        BLAS.gemm(.none, .none, m: n, n: n, k: n, a: a.data, b: b.data, c: c.data)  // warm-up
        var rates: [Double] = []
        let start = monotonicSeconds()
        while rates.count < 3 || monotonicSeconds() - start < seconds {
            let t0 = monotonicSeconds()
            BLAS.gemm(.none, .none, m: n, n: n, k: n, a: a.data, b: b.data, c: c.data)
            rates.append(flops / (monotonicSeconds() - t0) / 1e9)
        }
        rates.sort()
        return Result(size: n, threads: threads, repetitions: rates.count,
                      bestGFLOPS: rates.last ?? 0, medianGFLOPS: rates[rates.count / 2])
    }
}
