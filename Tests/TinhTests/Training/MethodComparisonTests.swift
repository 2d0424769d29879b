import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

@Suite struct MethodComparisonTests {
    @Test func tabulatesEveryMethodOnTheSameBudget() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-cmp-\(UUID().uuidString)")
        try DemoTask.write(to: dir.appendingPathComponent("data"), trainCount: 24, validCount: 4, seed: 5)
        var base = TrainConfig(model: "tiny:1", data: dir.appendingPathComponent("data/train.jsonl").path, out: dir.path,
                               adapter: AdapterConfig(rank: 2, targets: ["q", "v"]))
        base.valid = dir.appendingPathComponent("data/valid.jsonl").path
        base.steps = 4; base.batch = 2; base.seq = 40; base.evalEvery = 2
        let methods = MethodComparison.allMethods
        let (rows, points) = try MethodComparison.run(base: base, methods: methods, comm: LocalCommunicator(),
                                                      exactMatchOn: base.valid, maxAnswerTokens: 2)
        #expect(rows.map(\.method) == methods)
        #expect(Set(points.map(\.method)) == Set(methods) && points.count == 2 * methods.count)
        for r in rows {
            #expect(r.trainableParameters > 0 && r.bytesAllReducedPerStep == 4 * r.trainableParameters + 24)  // + loss, tokens, stop requests (Double)
            #expect(r.finalEvalLoss != nil && r.heldOutAccuracy != nil && r.tokensPerSecond > 0)
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs/\(r.method)/adapter/adapter_config.json").path))
        }
        let csv = MethodComparison.csv(rows).split(separator: "\n")
        #expect(csv.count == methods.count + 1 && csv[0].hasPrefix("method,trainable_parameters,bytes_allreduced_per_step"))
        #expect(MethodComparison.markdown(rows, world: 1).contains("| lora | "))
    }

    /// The names compare-methods adds or adjusts: pissa is LoRA with the PiSSA init, qlora keeps its nf4
    /// base, and AdaLoRA's schedule (1.5 × rank → rank) fits any step count, however short.
    @Test(arguments: [1, 2, 7, 20, 60]) func pissaQLoRAAndAdaLoRAFitAnyBudget(steps: Int) throws {
        var base = TrainConfig(model: "tiny", data: "train.jsonl", out: "cmp", adapter: AdapterConfig(rank: 8, targets: ["q", "v"]))
        base.steps = steps
        let pissa = try MethodComparison.config(for: "pissa", base: base)
        #expect(pissa.adapter.method == .lora && pissa.adapter.options(LoRAOptions.self).pissa && pissa.out.hasSuffix("runs/pissa"))
        #expect(try MethodComparison.config(for: "qlora", base: base).adapter.resolvedBasePrecision == .nf4)
        let ada = try MethodComparison.config(for: "adalora", base: base)
        #expect(ada.adapter.options is AdaLoRAOptions)
        let schedule = ada.adapter.options(AdaLoRAOptions.self).settings
        #expect(ada.adapter.rank == 12 && schedule.targetR == 8 && schedule.totalStep == steps)
        try schedule.validate(initR: ada.adapter.rank)
    }
}
