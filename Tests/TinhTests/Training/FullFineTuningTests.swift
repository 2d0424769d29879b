import Foundation
import Testing
@testable import Tinh

/// `--method full`: the model's weights move into the flat buffer and train there.
@Suite(.serialized) struct FullFineTuningTests {
    /// Finite differences through the flat buffer: perturbing values[i] changes the loss by
    /// grads[i], for samples of every slot (embedding, norms, projections, untied head).
    @Test(arguments: [true, false]) func flatBufferGradientsMatchFiniteDifferences(tied: Bool) throws {
        let c = ModelFixture.config(tied: tied, kvHeads: 2, bias: !tied)
        let weights = ModelFixture.weights(c)
        let model = try DecoderModel(config: c, weights: weights)
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .full))
        let p = set.parameters
        #expect(p.count == set.method.expectedTrainableCount())
        #expect(p.slots.count == 2 + 9 * c.numLayers + (tied ? 0 : 1))
        for slot in p.slots { #expect(weights[slot.name].map { $0.array == Array(p.values.buffer[slot.range]) } == true, "\(slot.name) moved as is") }
        // Buffer order follows the layers, so buckets cut from the end hold finished layers.
        #expect(set.layerSegments.map(\.layer) == set.layerSegments.map(\.layer).sorted())
        let (tokens, targets, mask) = ModelFixture.batch(2, 7, vocab: c.vocabSize)
        func loss() -> Double { try! model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: 2, seq: 7).loss }
        _ = loss()
        model.backward(lossScale: 1)
        let checker = GradCheck(eps: 2e-2, tol: 1e-2, floorFraction: 2e-2, lossNoise: ModelGradientTests.lossNoise)
        let embeddingChecker = GradCheck(eps: 5e-3, tol: 1e-2, floorFraction: 2e-2, maxChecks: 100, lossNoise: ModelGradientTests.lossNoise)
        var d = TestData(seed: 31)
        for slot in p.slots {
            let analytic = Array(p.grads.buffer[slot.range])
            var idx = d.sample(3, of: slot.count)
            if slot.name == "model.embed_tokens.weight" { idx += tokens.prefix(3).map { Int($0) * c.hiddenSize + d.int(c.hiddenSize) } }
            (slot.name == "model.embed_tokens.weight" ? embeddingChecker : checker)
                .check(slot.name, param: p.values.data + slot.offset, analytic: analytic, indices: idx, loss: loss)
        }
    }

    /// 1 rank takes the global batch of 4 as 2 micro-batches, 2 ranks take 2 each: the same
    /// micro-batches, library and threads (see DataParallelTests for why that is exact).
    func train(ranks: Int, out: String, extra: [String] = []) throws -> [[String: Any]] {
        let args = ["train", "--model", "tiny:2", "--data", DataParallelTests.data, "--out", out, "--steps", "6", "--batch", "4",
                    "--grad-accum", "\(ranks == 1 ? 2 : 1)",
                    "--seq", "32", "--method", "full", "--lr", "1e-3", "--warmup", "1", "--valid-fraction", "0.1", "--bucket-mb", "0.1"] + extra
        let env = TestProcess.sameArithmetic(DataParallelTests.gemm)
        let result = ranks == 1 ? try TestProcess.run([TestProcess.tinh] + args, environment: env, timeout: 300)
                                : try TestProcess.launch(ranks: ranks, args, environment: env, timeout: 300)
        #expect(result.status == 0, "\(ranks) rank(s):\n\(result.output)")
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        return try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    /// 2 ranks follow the 1-rank trajectory bit for bit, and the export is the whole model under HF names.
    @Test func twoRanksTrainWhatOneRankTrains() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-full-\(UUID().uuidString)").path
        let one = try train(ranks: 1, out: dir + "/1"), two = try train(ranks: 2, out: dir + "/2")
        #expect(one.count == 6 && two.count == 6)
        for (a, b) in zip(one, two) {
            let la = try #require(a["loss"] as? Double), lb = try #require(b["loss"] as? Double)
            #expect(la == lb, "step \(a["step"]!): loss \(la) vs \(lb)")
        }
        #expect((one.last?["loss"] as? Double ?? 99) < (one.first?["loss"] as? Double ?? 0))
        let m1 = try SafeTensorsFile(path: dir + "/1/model/model.safetensors"), m2 = try SafeTensorsFile(path: dir + "/2/model/model.safetensors")
        let base = try TinyLlama.model(seed: 2)
        let expectedNames = Set(try Merge.mergedWeights(model: base, adapters: try AdapterSet(model: base, config: AdapterConfig(rank: 1))).keys)
        #expect(Set(m1.tensors.map(\.name)) == expectedNames, "every weight under its HF name")
        var worst: Float = 0, scale: Float = 0, moved: Float = 0
        for info in m1.tensors {
            let a = try m1.tensor(info.name).array, b = try m2.tensor(info.name).array
            let original = base.linear(named: String(info.name.dropLast(".weight".count)))?.weight.dequantized().array
            if let original { moved = max(moved, zip(a, original).map { abs($0 - $1) }.max() ?? 0) }
            worst = max(worst, zip(a, b).map { abs($0 - $1) }.max() ?? 0)
            scale = max(scale, a.map(abs).max() ?? 0)
        }
        #expect(moved > 1e-4, "the projections trained (moved by \(moved))")
        #expect(worst == 0, "1 vs 2 ranks: weights differ by \(worst) (largest \(scale))")
        // The checkpoint holds the same weights; there is no PEFT adapter to export.
        let checkpoint = URL(fileURLWithPath: dir + "/1/checkpoints/step-00000006")
        #expect(throws: TinhError.self) { try PEFTExport.write(checkpoint: checkpoint, baseModelName: nil, to: URL(fileURLWithPath: dir + "/peft")) }
        let saved = try SafeTensorsFile(path: checkpoint.path + "/" + Checkpoints.adapterFile)
        let name = "model.layers.1.mlp.down_proj.weight"
        #expect(try saved.tensor(name).array == m1.tensor(name).array)
    }
}
