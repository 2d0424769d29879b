import Foundation
import Testing
@testable import Tinh

/// The training log's MFU is the step's FLOPs (StepFlops at the step's share of loss positions)
/// per second over the job's FMA peak; StepFlops is linear in that share, which the meter relies on.
@Suite struct MFUMeterTests {
    @Test func mfuIsTheStepsFlopsOverThePeak() throws {
        let loaded = try ModelSource.load("tiny:3")
        let set = try AdapterSet(model: loaded.model, config: AdapterConfig(rank: 4, targets: ["q", "v", "down"]))
        defer { set.detach() }
        let meter = try MFUMeter(model: loaded.model, adapters: set, seq: 32, comm: LocalCommunicator())
        #expect(meter.peak > 0)
        for share in [0.0, 0.3, 1.0] {
            let flops = StepFlops(model: loaded.model, adapters: set, seq: 32, lossFraction: share).total
            let want = flops * 200 / 2 / meter.peak
            let got = meter.mfu(positions: 200, lossTokens: Int(share * 200), seconds: 2)
            // Two sums of the same few terms in another order: a few ulps.
            #expect(abs(got - want) <= 8 * Double.ulpOfOne * want, "share \(share): \(got) vs \(want)")
        }
        #expect(meter.mfu(positions: 0, lossTokens: 0, seconds: 1) == 0)
    }

    /// Full fine-tuning also computes every weight's gradient: 2 FLOPs per weight more.
    @Test func fullFineTuningCountsWeightGradients() throws {
        let lora = try ModelSource.load("tiny:3"), full = try ModelSource.load("tiny:3")
        let a = try AdapterSet(model: lora.model, config: AdapterConfig(rank: 4, targets: ["q"]))
        let b = try AdapterSet(model: full.model, config: AdapterConfig(method: .full))
        let fa = StepFlops(model: lora.model, adapters: a, seq: 16, lossFraction: 1)
        let fb = StepFlops(model: full.model, adapters: b, seq: 16, lossFraction: 1)
        let weights = Double(full.model.blocks.flatMap(\.linears).reduce(0) { $0 + $1.inFeatures * $1.outFeatures })
        let head = Double(full.model.config.hiddenSize * full.model.config.vocabSize)
        #expect(fa.weightGradients == 0 && fb.weightGradients == 2 * weights + 2 * head)
        #expect(fb.frozenProjections == fa.frozenProjections && fb.adapter == 0)
    }
}
