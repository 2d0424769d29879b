import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// Speed measurement, run by hand (not a timed test):
///   TINH_BENCH=1 OPENBLAS_NUM_THREADS=1 swift test -c release -Xswiftc -enable-testing --filter ModelBenchmark
@Suite struct ModelBenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TINH_BENCH"] != nil))
    func smolLM2Shapes() throws {
        for fraction in [1.0, 0.5] {
            let r = try ForwardBenchmark.run(lossFraction: fraction)
            print(r.summary)
            #expect(r.forwardTokensPerSecond > 0)
        }
    }

    /// The benchmark itself works (on tiny, quickly).
    @Test func benchmarkRunsOnTiny() throws {
        let r = try ForwardBenchmark.run(config: TinyLlama.config, batch: 2, seq: 16, iterations: 1, warmup: 0, threads: nil, probeSeconds: 0.01)
        #expect(r.forwardSeconds > 0 && r.trainSeconds > 0 && r.sgemmGFLOPS > 0)
    }
}
