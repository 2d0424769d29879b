import Foundation
import Testing
@testable import Tinh

/// `--batch-tokens` through the trainer: steps compute no pad, report real tokens, and make the
/// update that padded rows of the same global batch make (to rounding).
@Suite struct VarlenTrainingTests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-varlen-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 32, validCount: 4, seed: 5)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    static func config(batchTokens: Int?) -> TrainConfig {
        var c = TrainConfig(model: "tiny:2", data: data, out: FileManager.default.temporaryDirectory
            .appendingPathComponent("tinh-varlen-run-\(UUID().uuidString)").path,
                            adapter: AdapterConfig(method: .lora, rank: 4, alpha: 8, targets: ["q", "v", "down"], seed: 7))
        c.steps = 3; c.batch = 6; c.seq = 64; c.lr = 1e-2; c.validFraction = 0; c.batchTokens = batchTokens
        return c
    }

    @Test func varlenStepsComputeNoPadAndMatchPaddedSteps() throws {
        let padded = try Trainer(config: Self.config(batchTokens: nil), comm: LocalCommunicator(), loaded: ModelSource.load("tiny:2"))
        // A budget of one --seq: the 6 examples (~45 tokens each) take several micro-batches.
        let varlen = try Trainer(config: Self.config(batchTokens: 64), comm: LocalCommunicator(), loaded: ModelSource.load("tiny:2"))
        let layout = try varlen.layout(step: 0)
        #expect(layout.microBatches.count > 1)
        #expect(layout.microBatches.flatMap { $0 }.sorted() == varlen.sampler.globalIndices(step: 0).sorted())
        #expect(layout.microBatches.allSatisfy { $0.reduce(0) { $0 + varlen.data.train.realTokens($1) } <= 64 })

        let p = try padded.trainStep(0), v = try varlen.trainStep(0)
        #expect(v.padShare == 0 && v.realTokens == v.tokens)
        #expect(p.realTokens == v.realTokens && p.tokens == 6 * 64 && (p.padShare ?? 0) > 0)
        #expect(p.lossTokens == v.lossTokens)
        // Mean −log p over the same tokens: each term moves by at most twice its logits' order-only error.
        let c = varlen.loaded.config
        let example = varlen.data.train.examples[0].ids
        let maxLogit = Double(try varlen.loaded.model.logits(tokens: example).array.map(abs).max() ?? 1)
        let bound = 2 * RoundingBound.forwardEstimate(c) * maxLogit + RoundingBound.gamma(p.lossTokens) * abs(p.loss)
        #expect(abs(p.loss - v.loss) <= bound, "padded \(p.loss), varlen \(v.loss), bound \(bound)")
    }

    @Test func aBudgetBelowSeqOrWithGradAccumIsRefused() throws {
        var c = Self.config(batchTokens: 32)
        #expect(throws: TinhError.self) { try c.validate(worldSize: 1) }
        c.batchTokens = 128; c.gradAccum = 2
        #expect(throws: TinhError.self) { try c.validate(worldSize: 1) }
        c.gradAccum = 1; c.pack = true
        #expect(throws: TinhError.self) { try c.validate(worldSize: 1) }
        c.pack = false
        try c.validate(worldSize: 2)
    }
}
