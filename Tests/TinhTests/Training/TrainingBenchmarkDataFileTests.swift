import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// `tinh bench --data FILE.jsonl`: the trainer's own examples and batching, real-token rates, and
/// the per-rank replay files that let a baseline train on exactly the same tokens.
@Suite(.serialized) struct TrainingBenchmarkDataFileTests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bench-data-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 24, validCount: 2, seed: 3)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    static func options(batchTokens: Int?, out: String? = nil) -> TrainingBenchmark.Options {
        var o = TrainingBenchmark.Options(model: "tiny:2", adapter: AdapterConfig(method: .lora, rank: 4, targets: ["q", "v"]))
        o.batch = 4; o.seq = 64; o.steps = 2; o.warmup = 1; o.threads = nil; o.probeSeconds = 0.01
        o.dataFile = data; o.batchTokens = batchTokens; o.batchesOut = out
        return o
    }

    struct Replay: Decodable {
        struct Step: Decodable {
            struct Example: Decodable { let ids: [Int32]; let loss: [UInt8] }
            let step: Int
            let examples: [Example]
            let real_tokens: Int
        }
        let rank: Int, world: Int, warmup: Int
        let steps: [Step]
    }

    static func replay(_ dir: String, rank: Int) throws -> Replay {
        try JSONDecoder().decode(Replay.self, from: Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent("rank-\(rank).json")))
    }

    @Test func varlenStepsReplayTheTrainersExamplesAndCountOnlyRealTokens() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bench-replay-\(UUID().uuidString)").path
        let r = try TrainingBenchmark.run(Self.options(batchTokens: 256, out: out), comm: LocalCommunicator())
        let rank = try #require(r.ranks.first)
        #expect(rank.padShare == 0)
        let replay = try Self.replay(out, rank: 0)
        #expect(replay.world == 1 && replay.warmup == 1 && replay.steps.map(\.step) == [0, 1, 2])

        // Every replayed example is one of the file's, whole (the demo's fit in --seq), and a
        // step's real tokens are its examples' input positions.
        let set = try TrainingDataset(path: Self.data, tokenizer: ModelSource.load("tiny:2").tokenizer,
                                      options: DataOptions(seq: 64, validFraction: 0))
        let known = Set(set.train.examples.map(\.ids))
        for s in replay.steps {
            #expect(s.examples.count == 4)
            #expect(s.examples.allSatisfy { known.contains($0.ids) && $0.ids.count == $0.loss.count && $0.loss.first == 0 })
            #expect(s.real_tokens == s.examples.reduce(0) { $0 + $1.ids.count - 1 })
        }
        let timed = replay.steps.dropFirst().map(\.real_tokens).reduce(0, +)
        #expect(rank.realTokensPerStep == Double(timed) / 2)

        // Step 0 trains from B = 0, so its loss is the base model's over the replayed examples, one
        // at a time: packing changes only the order of the f32 sums (bound as in VarlenTrainingTests).
        let model = try ModelSource.load("tiny:2").model
        var sum = 0.0, count = 0, maxLogit = 0.0
        for e in replay.steps[0].examples {
            let targets = e.ids.indices.dropFirst().map { e.loss[$0] == 1 ? e.ids[$0] : -1 }
            let l = try model.forward(tokens: Array(e.ids.dropLast()), targets: targets, batch: 1, seq: e.ids.count - 1)
            sum += l.loss; count += l.count
            maxLogit = max(maxLogit, Double(try model.logits(tokens: e.ids).array.map(abs).max() ?? 1))
        }
        let mean = sum / Double(count)
        let bound = 2 * RoundingBound.forwardEstimate(model.config) * maxLogit + RoundingBound.gamma(count) * abs(mean)
        #expect(abs(r.losses[0] - mean) <= bound, "bench \(r.losses[0]), one at a time \(mean), bound \(bound)")
    }

    @Test func paddedRowsReportTheirPadAndTheRateOfRealTokens() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bench-padded-\(UUID().uuidString)").path
        let r = try TrainingBenchmark.run(Self.options(batchTokens: nil, out: out), comm: LocalCommunicator())
        let rank = try #require(r.ranks.first)
        // The timed steps' real tokens against their 2 steps × 4 rows of 64 positions.
        let real = try Self.replay(out, rank: 0).steps.dropFirst().map(\.real_tokens).reduce(0, +)
        #expect(real < 2 * 4 * 64)
        #expect(abs(rank.padShare - (1 - Double(real) / Double(2 * 4 * 64))) <= 1e-12)
        #expect(rank.realTokensPerStep == Double(real) / 2)
        #expect(abs(r.tokensPerSecond - rank.tokensPerSecond) <= 1e-9 * r.tokensPerSecond)
    }

    @Test func twoRanksWriteOneReplayEachThatTogetherHoldTheGlobalBatch() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bench-replay2-\(UUID().uuidString)").path
        let result = try TestProcess.launch(ranks: 2, ["bench", "--model", "tiny:2", "--rank", "4", "--batch", "3", "--seq", "64",
                                                       "--steps", "2", "--probe-seconds", "0.01", "--data", Self.data,
                                                       "--batch-tokens", "256", "--batches-out", out, "--json"])
        #expect(result.status == 0, "\(result.output)")
        let zero = try Self.replay(out, rank: 0), one = try Self.replay(out, rank: 1)
        #expect(zero.world == 2 && one.rank == 1 && zero.steps.count == 3 && one.steps.count == 3)
        for (a, b) in zip(zero.steps, one.steps) {
            #expect(a.examples.count + b.examples.count == 6)
            #expect(!a.examples.isEmpty && !b.examples.isEmpty)
        }
    }

    @Test func batchTokensNeedsADataFileAndAMissingFileIsNamed() throws {
        let synthetic = try TestProcess.run([TestProcess.tinh, "bench", "--model", "tiny", "--batch-tokens", "256"])
        #expect(synthetic.status != 0 && synthetic.output.contains("--batch-tokens"), "\(synthetic.output)")
        let missing = try TestProcess.run([TestProcess.tinh, "bench", "--model", "tiny", "--data", "/nonexistent/x.jsonl"])
        #expect(missing.status != 0 && missing.output.contains("/nonexistent/x.jsonl"), "\(missing.output)")
    }
}
