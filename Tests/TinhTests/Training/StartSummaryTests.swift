import Foundation
import Testing
@testable import Tinh

/// What a run prints at start, and LoRA-FA's frozen A through a whole run.
@Suite struct StartSummaryTests {
    func trainer(_ method: MethodID, steps: Int = 3, ratio: Float? = nil) throws -> Trainer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-summary-\(UUID().uuidString)")
        try DemoTask.write(to: dir, trainCount: 16, validCount: 2, seed: 1)
        var config = TrainConfig(model: "tiny:3", data: dir.appendingPathComponent("train.jsonl").path,
                                 out: dir.appendingPathComponent("out").path,
                                 adapter: AdapterConfig(method: method, rank: 4, targets: ["q", "v", "o"], seed: 5))
        config.steps = steps; config.batch = 2; config.seq = 32; config.lr = 5e-3
        if let ratio { config.loraPlusRatio = ratio }
        return try Trainer(config: config, comm: LocalCommunicator())
    }

    @Test(arguments: [MethodID.lora, .loraFA, .loraPlus, .vera, .deltaLoRA]) func summaryStatesCountsBytesAndMemory(method: MethodID) throws {
        let t = try trainer(method)
        let p = t.adapters.parameters.count, text = t.startSummary
        // Output sizes of the adapted q, v, o (in is 64 for all three).
        let shapes = t.adapters.modules.map { m in (m.name.hasSuffix("o_proj") || m.name.hasSuffix("q_proj")) ? 64 : 32 }
        let expected: Int
        switch method {
        case .loraFA: expected = shapes.reduce(0) { $0 + 4 * $1 }        // r·out
        case .vera: expected = shapes.reduce(0) { $0 + 4 + $1 }           // r + out
        default: expected = shapes.reduce(0) { $0 + 4 * ($1 + 64) }        // r·(in + out)
        }
        #expect(p == expected && t.adapters.method.expectedTrainableCount() == expected)
        #expect(text.contains("\(p) trainable parameters (formula \(expected))"), "\(text)")
        #expect(t.allreduceBytesPerStep == p * 4 + 24)  // + loss, loss tokens, stop requests
        #expect(text.contains("all-reduced per step") && text.contains("(estimate)") && text.contains("kept for backward"), "\(text)")
        #expect(text.contains("LoRA+") == (method == .loraPlus), "\(text)")
    }

    @Test func loraPlusRatioWithLoRAFAIsSaidToDoNothing() throws {
        #expect(try trainer(.loraFA, ratio: 16).startSummary.contains("no effect with lora-fa"))
    }

    @Test func loraFAKeepsABitForBitAndExportsIt() throws {
        let t = try trainer(.loraFA)
        let start = t.adapters.frozenTensors().mapValues(\.array)
        var messages: [String] = []
        try t.run { if case .message(let m) = $0 { messages.append(m) } }
        #expect(t.adapters.parameters.values.array.contains { $0 != 0 }, "B trained")
        #expect(t.adapters.frozenTensors().mapValues(\.array) == start, "A did not move")
        let export = try SafeTensorsFile(path: t.config.out + "/adapter/adapter_model.safetensors")
        for (name, values) in start { #expect(try export.tensor(name).array == values, "\(name) exported") }
        #expect(messages.contains { $0.hasPrefix("activation memory measured after the first step") }, "\(messages)")
        // A checkpoint whose A differs from the seed's is refused.
        let checkpoint = try #require(Checkpoints.complete(in: Checkpoints.checkpointsDirectory(run: URL(fileURLWithPath: t.config.out))).last)
        let other = try trainer(.loraFA)
        let a = try #require(other.adapters.frozenTensors().values.first)
        a.data[0] += 1
        #expect(throws: TinhError.self) { try Checkpoints.load(from: checkpoint.url, adapters: other.adapters, optimizer: other.optimizer) }
    }
}
