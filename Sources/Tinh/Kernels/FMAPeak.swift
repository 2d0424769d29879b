import CFMAPeak

/// A core's peak float32 FMA rate, measured with a register-resident FMA loop at each vector width
/// the CPU has (AVX2 and AVX-512 on x86-64, NEON on arm64): the denominator of MFU. No memory
/// traffic, no dependency stalls (12 independent accumulators), so it is what the FMA units can do
/// on this core at its present clock, which sgemm (`SgemmProbe`, kept as a second reference) reaches
/// only in part.
public enum FMAPeak {
    public struct Width: Codable, Sendable, Equatable {
        /// "avx2", "avx512" or "neon".
        public var name: String
        public var lanes: Int
        /// Best rate of the timed rounds, one thread.
        public var gflops: Double
    }

    public struct Result: Codable, Sendable {
        public var widths: [Width]
        /// The fastest width's rate: the peak of one core.
        public var perCoreGFLOPS: Double { widths.map(\.gflops).max() ?? 0 }
        /// The width that reaches it.
        public var bestWidth: String { widths.max { $0.gflops < $1.gflops }?.name ?? "none" }
    }

    static let names: [(Int32, String)] = [(Int32(CFMAPEAK_AVX2), "avx2"), (Int32(CFMAPEAK_AVX512), "avx512"), (Int32(CFMAPEAK_NEON), "neon")]

    /// The widths this CPU has, by name.
    public static var available: [String] {
        let mask = cfmapeak_widths()
        return names.filter { mask & $0.0 != 0 }.map(\.1)
    }

    /// Runs `iterations` rounds at `width` and checks the loop did all its FMAs (every lane of
    /// every accumulator counts up by one per round, exactly below 2^24); returns the FLOPs done,
    /// or nil when the CPU lacks the width.
    static func run(width: Int32, iterations: Int) -> Double? {
        let sum = cfmapeak_run(width, Int64(iterations))
        guard sum >= 0 else { return nil }
        let lanes = Int(cfmapeak_lanes(width)), accumulators = Int(cfmapeak_accumulators())
        precondition(iterations >= 1 << 24 || sum == Double(lanes * accumulators * iterations), "FMA peak loop: wrong sum \(sum)")
        return 2 * Double(lanes * accumulators) * Double(iterations)
    }

    /// Times each width for about `seconds` in rounds of ~10 ms; the best round is the peak.
    public static func measure(seconds: Double = 0.5) -> Result {
        var widths: [Width] = []
        for (width, name) in names where cfmapeak_widths() & width != 0 {
            let iterations = 1 << 20  // ≈ 3·10⁸ FLOPs a round: a few ms on any recent core
            _ = run(width: width, iterations: iterations)  // warm-up (and the clock up to speed)
            var best = 0.0
            let start = monotonicSeconds()
            var rounds = 0
            while rounds < 3 || monotonicSeconds() - start < seconds / Double(max(available.count, 1)) {
                let t0 = monotonicSeconds()
                guard let flops = run(width: width, iterations: iterations) else { break }
                best = max(best, flops / (monotonicSeconds() - t0) / 1e9)
                rounds += 1
            }
            widths.append(Width(name: name, lanes: Int(cfmapeak_lanes(width)), gflops: best))
        }
        return Result(widths: widths)
    }
}
