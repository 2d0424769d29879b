import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// The α–β all-reduce cost, its fit, the step-time model and the simulated-latency communicator.
struct ScalingModelTests {
    let alpha = 3e-6, beta = 1.0 / 1.25e8  // 3 µs, 1 Gbit/s

    func synthetic(_ model: AllreduceCostModel, ranks: [Int]) -> [AllreducePoint] {
        ranks.flatMap { p in AllreduceBenchmark.sizes(maxBytes: 64 << 20).map { AllreducePoint(ranks: p, bytes: $0, seconds: model.seconds(ranks: p, bytes: $0)) } }
    }

    @Test func ringAndRecursiveDoublingFormulas() {
        let m = AllreduceCostModel(alpha: alpha, beta: beta, smallMessageLimit: 10_000)
        let n = 1 << 20
        #expect(m.algorithm(bytes: n) == .ring && m.algorithm(bytes: 100) == .recursiveDoubling)
        #expect(abs(m.seconds(ranks: 4, bytes: n) - (2 * 3 * alpha + 2 * 3.0 / 4 * Double(n) * beta)) < 1e-15)
        #expect(abs(m.seconds(ranks: 8, bytes: 100) - 3 * (alpha + 100 * beta)) < 1e-15)
        #expect(abs(m.seconds(ranks: 5, bytes: 100) - 3 * (alpha + 100 * beta)) < 1e-15)  // ⌈log₂5⌉ rounds
        #expect(m.seconds(ranks: 1, bytes: n) == 0)
        // The ring's bandwidth term tends to 2·n·β: the cost of a large all-reduce hardly grows with p.
        let big = m.seconds(ranks: 4096, bytes: n) - 2 * 4095 * alpha
        #expect(abs(big - 2 * Double(n) * beta) / big < 1e-3)
        #expect(abs(m.with(bitsPerSecond: 10e9).beta - 8e-10) < 1e-20)
    }

    @Test func fitRecoversAlphaAndBetaFromSyntheticPoints() throws {
        let truth = AllreduceCostModel(alpha: alpha, beta: beta)
        for ranks in [[2], [2, 4], [4, 16, 64]] {
            let fitted = try AllreduceCostModel.fit(synthetic(truth, ranks: ranks))
            #expect(abs(fitted.alpha - alpha) / alpha < 1e-6, "\(ranks): α \(fitted.alpha)")
            #expect(abs(fitted.beta - beta) / beta < 1e-6, "\(ranks): β \(fitted.beta)")
            #expect(fitted.worstRelativeError(synthetic(truth, ranks: ranks)) < 1e-6)
        }
        // Only mid-sized points: the joint fit, which recovers them too.
        let mid = synthetic(truth, ranks: [2, 8]).filter { $0.bytes > 1024 && $0.bytes < 1 << 20 }
        let joint = try AllreduceCostModel.fit(mid)
        #expect(abs(joint.alpha - alpha) / alpha < 1e-6 && abs(joint.beta - beta) / beta < 1e-6)
    }

    @Test func fitIsRobustToNoiseAndRejectsTooFewPoints() throws {
        let truth = AllreduceCostModel(alpha: alpha, beta: beta)
        var generator = SeededGenerator(seed: 3)
        let noisy = synthetic(truth, ranks: [2, 4]).map { p -> AllreducePoint in
            var q = p; q.seconds *= Double.random(in: 0.95...1.05, using: &generator); return q
        }
        let fitted = try AllreduceCostModel.fit(noisy)
        #expect(abs(fitted.alpha - alpha) / alpha < 0.06 && abs(fitted.beta - beta) / beta < 0.06, "\(fitted)")
        #expect(throws: TinhError.self) { try AllreduceCostModel.fit([AllreducePoint(ranks: 2, bytes: 4, seconds: 1e-5)]) }
        #expect(throws: TinhError.self) { try AllreduceCostModel.fit(synthetic(truth, ranks: [1])) }
    }

    @Test func stepTimeAndWeakEfficiency() {
        let cost = AllreduceCostModel(alpha: alpha, beta: beta)
        let m = StepTimeModel(computeSeconds: 0.5, gradientBytes: 4 << 20, cost: cost)
        #expect(m.weakEfficiency(ranks: 1) == 1)
        let comm = cost.seconds(ranks: 64, bytes: 4 << 20) + cost.seconds(ranks: 64, bytes: 24)
        #expect(abs(m.stepSeconds(ranks: 64) - (0.5 + comm)) < 1e-12)
        #expect(abs(m.weakEfficiency(ranks: 64) - 0.5 / (0.5 + comm)) < 1e-12)
        let effs = [2, 8, 64, 512, 4096].map { m.weakEfficiency(ranks: $0) }
        #expect(zip(effs, effs.dropFirst()).allSatisfy { $0 >= $1 } && effs.last! > 0)
    }

    @Test func projectionChecksRunsAgainstTheModel() throws {
        let truth = AllreduceCostModel(alpha: alpha, beta: beta)
        let bytes = 2 << 20
        let exact = StepTimeModel(computeSeconds: 1.0, gradientBytes: bytes, cost: truth).stepSeconds(ranks: 2)
        let runs = [
            MeasuredRun(setting: "s", scaling: "weak", method: "lora", ranks: 1, stepSeconds: 1.0, computeSeconds: 1.0,
                        allreduceSeconds: 0, gradientBytes: bytes, oversubscribed: false),
            MeasuredRun(setting: "s", scaling: "weak", method: "lora", ranks: 2, stepSeconds: exact * 1.1, computeSeconds: 1.0,
                        allreduceSeconds: 0.1, gradientBytes: bytes, oversubscribed: false),
        ]
        let p = try ScalingProjection(points: synthetic(truth, ranks: [2]), runs: runs, ranks: [8, 4096], linksBitsPerSecond: [10e9], setting: "s")
        #expect(p.checks.count == 1)
        #expect(abs(p.checks[0].relativeError - (1 / 1.1 - 1)) < 1e-6)
        #expect(p.rows.count == 4)  // (fitted, 10 Gbit/s) × (8, 4096)
        let fast = try #require(p.rows.first { $0.link == "10 Gbit/s" && $0.ranks == 4096 })
        let slow = try #require(p.rows.first { $0.link == "fitted" && $0.ranks == 4096 })
        #expect(fast.efficiency > slow.efficiency && slow.efficiency < 1)
        #expect(p.projectionTable.contains("| 4096 |") && p.checkTable.contains("-9.1%"))
    }

    @Test func simulatedLatencyDelaysEveryCollectiveAndSaysSo() throws {
        let comm = SimulatedLatencyCommunicator(wrapping: LocalCommunicator(), latencySeconds: 0.02)
        #expect(comm.libraryVersion.contains("SIMULATED") && comm.label.contains("20 ms"))
        // Found under the watchdog `tinh train` wraps around it, so the run still says so.
        #expect(CollectiveWatchdog(comm, timeout: 60).simulatedLatency === comm)
        #expect(LocalCommunicator().simulatedLatency == nil)
        var values: [Float] = [1, 2, 3]
        let t0 = comm.wallTime()
        try comm.allreduceSum(&values)
        #expect(comm.wallTime() - t0 >= 0.02)
        #expect(values == [1, 2, 3])
        let start = comm.wallTime()
        let pending = try values.withUnsafeMutableBufferPointer { try comm.startAllreduceSum($0) }
        #expect(try pending.test() == false)  // not before the delay has passed
        try pending.wait()
        #expect(comm.wallTime() - start >= 0.02)
        #expect(try pending.test())
        #expect(try SimulatedLatencyCommunicator.requestedLatency([:]) == nil)
        #expect(try SimulatedLatencyCommunicator.requestedLatency(["TINH_SIMULATED_LATENCY_MS": "1.5"]) == 0.0015)
        #expect(throws: TinhError.self) { try SimulatedLatencyCommunicator.requestedLatency(["TINH_SIMULATED_LATENCY_MS": "soon"]) }
    }
}
