import Foundation
import Testing
@testable import Tinh

/// The FMA-peak loop does every FMA it counts, at the widths the CPU reports (its speed is
/// measured by `tinh doctor` and `tinh bench`, never asserted here).
@Suite struct KernelFMAPeakTests {
    /// The CPU's own flags (/proc/cpuinfo on Linux x86-64).
    static var cpuFlags: Set<String> {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
    }

    @Test func widthsAreTheCPUs() {
        #if arch(x86_64)
        let flags = Self.cpuFlags
        #expect(FMAPeak.available.contains("avx2") == (flags.contains("avx2") && flags.contains("fma")))
        #expect(FMAPeak.available.contains("avx512") == flags.contains("avx512f"))
        #elseif arch(arm64)
        #expect(FMAPeak.available == ["neon"])
        #endif
    }

    /// Every lane of every accumulator counts one per round, so the loop's sum is exact and says
    /// that none of the FMAs was dropped or folded away; the FLOPs are 2 per lane per round.
    @Test func theLoopDoesEveryFMAItCounts() throws {
        for (width, name) in FMAPeak.names where FMAPeak.available.contains(name) {
            let flops = try #require(FMAPeak.run(width: width, iterations: 1000))
            let lanes = name == "avx512" ? 16 : name == "avx2" ? 8 : 4
            #expect(flops == Double(2 * lanes * 12 * 1000), "\(name)")
        }
        let result = FMAPeak.measure(seconds: 0.05)
        #expect(result.widths.map(\.name) == FMAPeak.available)
        #expect(result.widths.allSatisfy { $0.gflops > 0 } && result.perCoreGFLOPS > 0)
    }
}
