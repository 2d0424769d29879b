import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

@Suite(.serialized) struct TrainingBenchmarkTests {
    func options(_ data: TrainingBenchmark.DataKind) -> TrainingBenchmark.Options {
        var o = TrainingBenchmark.Options(model: "tiny:1", adapter: AdapterConfig(method: .lora, rank: 4, targets: ["q", "v"]))
        o.batch = 2; o.seq = 32; o.steps = 2; o.warmup = 1; o.threads = nil; o.data = data; o.probeSeconds = 0.01
        return o
    }

    @Test func textDataPutsEveryPositionInTheLossAndPhasesAddUpToTheStep() throws {
        let r = try TrainingBenchmark.run(options(.text), comm: LocalCommunicator())
        #expect(r.lossFraction == 1)
        #expect(r.tokensPerSecond > 0 && r.sgemmGFLOPS > 0 && r.percentOfRoofline > 0)
        let rank = try #require(r.ranks.first)
        // Every phase of a step is accounted for: the phases' sum is the mean step time. (The phase
        // clock also runs between steps, for the loop's own bookkeeping: a little slack above the
        // slowest step, which a loaded machine needs.)
        let sum = rank.phaseSeconds.values.reduce(0, +)
        #expect(sum >= rank.minStepSeconds * 0.99 && sum <= rank.maxStepSeconds * 1.05 + 0.005,
                "phases \(sum) s against steps \(rank.minStepSeconds)–\(rank.maxStepSeconds) s")
        for p in [Phase.embedding, .attention, .mlp, .lmHeadAndLoss, .adapter, .optimizer] {
            #expect((rank.phaseSeconds[p.name] ?? 0) > 0, "phase \(p.name) got no time")
        }
    }

    @Test func chatDataMasksAboutHalfAndTheHeadCountsOnlyLossPositions() throws {
        let text = try TrainingBenchmark.run(options(.text), comm: LocalCommunicator())
        let chat = try TrainingBenchmark.run(options(.chat), comm: LocalCommunicator())
        #expect(chat.lossFraction > 0.3 && chat.lossFraction < 0.7)
        #expect(abs(chat.flopsPerToken.lmHead - text.flopsPerToken.lmHead * chat.lossFraction) < 1e-6 * text.flopsPerToken.lmHead)
        #expect(chat.flopsPerToken.frozenProjections == text.flopsPerToken.frozenProjections)
    }

    /// FLOPs per token from the shapes, by hand for tiny (hidden 64, intermediate 128, 2 layers,
    /// 4 heads × 16, 2 KV heads, vocab 512) with LoRA r4 on q (64→64) and v (64→32).
    @Test func flopCountMatchesTheShapes() throws {
        let loaded = try ModelSource.load("tiny:1")
        let adapters = try AdapterSet(model: loaded.model, config: AdapterConfig(method: .lora, rank: 4, targets: ["q", "v"]))
        let f = TrainingBenchmark.flops(model: loaded.model, adapters: adapters, seq: 31, lossFraction: 0.5)
        let attentionWeights: Double = 64 * (64 + 32 + 32 + 64)
        let mlpWeights: Double = 3 * 64 * 128
        let perLayer = attentionWeights + mlpWeights
        #expect(f.frozenProjections == 4 * 2 * perLayer)
        #expect(f.attention == Double(3 * 2 * 4 * 64 * 16))
        #expect(f.lmHead == Double(4 * 64 * 512) * 0.5)
        #expect(f.adapter == Double(2 * 6 * 4 * ((64 + 64) + (64 + 32))))
    }

    @Test func phaseTimerChargesNestedTimeOnce() {
        let timer = PhaseTimer()
        let outer = timer.enter(.attention)
        usleep(20_000)
        _ = timer.measure(.adapter) { usleep(20_000) }
        timer.leave(outer)
        let s = timer.seconds
        timer.stop()
        #expect(s[.attention]! >= 0.019 && s[.attention]! < 0.035)
        #expect(s[.adapter]! >= 0.019 && s[.adapter]! < 0.035)
        // Stopped: nothing more is charged.
        _ = timer.enter(.mlp)
        usleep(5_000)
        #expect(timer.seconds[.mlp] == s[.mlp] && s[.mlp] == 0)
    }

    /// A timer charges only the thread that made it; a model hands its timer to every block and
    /// Linear, and a model without one (the default) is timed by nobody.
    @Test func phaseTimerBelongsToItsThreadAndModel() throws {
        let timer = PhaseTimer()
        let other = Thread { _ = timer.enter(.mlp); usleep(20_000); _ = timer.enter(.other) }
        other.start()
        while !other.isFinished { usleep(1_000) }
        #expect(timer.seconds[.mlp] == 0, "another thread's marks are ignored")
        let model = try ModelSource.load("tiny:1").model
        #expect(model.phaseTimer == nil && model.linears.allSatisfy { $0.phases == nil } && model.blocks.allSatisfy { $0.phases == nil })
        model.phaseTimer = timer
        #expect(model.linears.allSatisfy { $0.phases === timer } && model.blocks.allSatisfy { $0.phases === timer })
        _ = try model.forward(tokens: [1, 2, 3, 4], targets: [2, 3, 4, 5], batch: 1, seq: 4)
        #expect((timer.seconds[.attention] ?? 0) > 0 && (timer.seconds[.lmHeadAndLoss] ?? 0) > 0)
        model.phaseTimer = nil
        #expect(model.linears.allSatisfy { $0.phases == nil } && model.blocks.allSatisfy { $0.phases == nil })
    }

    @Test func cliPrintsJobAndPerRankNumbersOnTwoRanks() throws {
        let result = try TestProcess.launch(ranks: 2, ["bench", "--model", "tiny:1", "--rank", "4", "--batch", "2", "--seq", "32",
                                                       "--steps", "2", "--probe-seconds", "0.01", "--json"])
        #expect(result.status == 0, "\(result.output)")
        let data = try #require(TestProcess.jsonObject(in: result.output))
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["world"] as? Int == 2)
        let ranks = try #require(json["ranks"] as? [[String: Any]])
        #expect(ranks.count == 2 && ranks.allSatisfy { ($0["tokens_per_second"] as? Double ?? 0) > 0 })
        #expect((json["peak_rss_megabytes"] as? Double ?? 0) > 0)
        // The JSON names readers use (snake case of achievedGFLOPS / sgemmGFLOPS), and the CPU.
        #expect((json["achieved_gflops"] as? Double ?? 0) > 0 && (json["sgemm_gflops"] as? Double ?? 0) > 0, "\(json.keys.sorted())")
        #expect((json["cpu"] as? [String: Any])?["level"] is String)
    }

    @Test func cliRejectsBadInput() throws {
        let result = try TestProcess.run([TestProcess.tinh, "bench", "--model", "tiny", "--steps", "0"])
        #expect(result.status != 0 && result.output.contains("--steps"), "\(result.output)")
    }
}
