import Foundation
import Testing
@testable import Tinh

/// Every family: a LoRA on every projection (Phi-3's fused ones under PEFT's names) trained for 3
/// AdamW steps, exported in PEFT's format, loads back onto a fresh base with the same loss.
///
/// PEFT's side: with TINH_PEFT_CHECK_DIR set, each family's export, batch and loss are also written
/// there; `launch/check-peft-families` runs this and loads each one in PEFT over transformers.
@Suite struct FamilyPEFTExportTests {
    static let batch = 2, seq = 12

    @Test(arguments: FamilyFixture.families)
    func threeStepLoRAExportLoadsBackWithTheSameLoss(family: String) throws {
        let dir = try FamilyFixture.directory(family)
        let (config, weights) = try ModelFileLoader.load(path: dir.path)
        let model = try DecoderModel(config: config, weights: weights)
        let targets = AdapterConfig.targets(for: config.spec.projections)
        let set = try AdapterSet(model: model, config: AdapterConfig(rank: 4, alpha: 8, targets: targets, seed: 7))
        let (tokens, targetIds, mask) = ModelFixture.batch(Self.batch, Self.seq, vocab: config.vocabSize)
        // Ignored positions are -100 in the targets themselves, so PEFT's labels can be the same array.
        let labels = zip(targetIds, mask).map { $1 ? $0 : CrossEntropy.ignoreIndex }
        func loss() throws -> LossResult { try model.forward(tokens: tokens, targets: labels, batch: Self.batch, seq: Self.seq) }
        let p = set.parameters
        let adam = AdamW(parameterCount: p.count)
        let groups = [ParameterGroup(name: "lora", range: 0..<p.count)]
        let first = try loss()
        for _ in 0..<3 {
            p.grads.zero()
            let l = try loss()
            model.backward(lossScale: 1 / Float(l.count))
            adam.step(params: p.values.data, grads: p.grads.data, groups: groups, lr: 1e-2)
        }
        let trained = try loss().mean
        #expect(trained < first.mean, "\(family): 3 steps lower the loss (\(first.mean) → \(trained))")

        let out = try Self.exportDirectory(family)
        defer { if ProcessInfo.processInfo.environment["TINH_PEFT_CHECK_DIR"] == nil { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) } }
        try PEFTExport.write(adapters: set, baseModelName: family, to: out)
        let fresh = try DecoderModel(config: config, weights: weights)
        let base = try fresh.forward(tokens: tokens, targets: labels, batch: Self.batch, seq: Self.seq).mean
        let loaded = try PEFTAdapter.load(dir: out.path, into: fresh)
        #expect(loaded.config.targets == targets)
        let reloaded = try fresh.forward(tokens: tokens, targets: labels, batch: Self.batch, seq: Self.seq).mean
        // The same tensors in the same kernels: the same loss, bit for bit.
        #expect(reloaded == trained && base != trained, "\(family): \(reloaded) vs \(trained) (base \(base))")
        let record: [String: Any] = ["family": family, "tokens": tokens.map(Int.init), "labels": labels.map(Int.init),
                                     "batch": Self.batch, "seq": Self.seq, "loss": trained, "base_loss": base]
        try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]).write(to: out.appendingPathComponent("tinh_loss.json"))
    }

    /// Where the export goes: under TINH_PEFT_CHECK_DIR when set (kept for the PEFT check), else a temporary directory.
    static func exportDirectory(_ family: String) throws -> URL {
        let root = ProcessInfo.processInfo.environment["TINH_PEFT_CHECK_DIR"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("tinh-peft-\(UUID().uuidString)")
        let dir = root.appendingPathComponent(family, isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
