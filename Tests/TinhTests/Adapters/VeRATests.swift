import Foundation
import Testing
@testable import Tinh

@Suite struct VeRATests {
    let batch = 2, seq = 7

    static func model() throws -> DecoderModel {
        let c = ModelFixture.config()
        return try DecoderModel(config: c, weights: ModelFixture.weights(c))
    }

    /// tiny with VeRA on `targets`, b made non-zero (and d varied) so every path carries gradient.
    func adaptedModel(targets: [String] = AdapterConfig.targetOrder, rank: Int = 24) throws -> (DecoderModel, AdapterSet) {
        let model = try Self.model()
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .vera, rank: rank, targets: targets, seed: 9, options: VeRAOptions(projectionSeed: 5)))
        var rng = SeededGenerator(seed: 77)
        for slot in set.parameters.slots {
            let p = set.parameters.values.data + slot.offset
            if slot.name.hasSuffix("vera_lambda_b") { rng.fillNormal(p, count: slot.count, std: 1) }
            else { for i in 0..<slot.count { p[i] += 0.3 * rng.nextNormal() } }
        }
        return (model, set)
    }

    @Test(arguments: [AdapterConfig.targetOrder, ["k", "v", "up"]])
    func gradientsOfDAndBMatchFiniteDifferences(targets: [String]) throws {
        let (model, set) = try adaptedModel(targets: targets)
        AdapterGradientChecks.slots(model, set, perSlot: 4)
    }

    /// dX through the model: the summed dL/d(A·x) of q, k, v (and of gate, up) reaches dx once.
    @Test(arguments: [AdapterConfig.targetOrder, ["v", "gate"]])
    func inputGradientIncludesTheAdapterPath(targets: [String]) throws {
        AdapterGradientChecks.input(try adaptedModel(targets: targets).0, "dX with VeRA", maxChecks: 40)
    }

    /// One Linear alone: d, b and dX against finite differences of Σ w·y.
    @Test func singleLinearGradients() throws {
        var data = TestData(seed: 11)
        let rows = 5, inF = 12, outF = 9
        let linear = Linear(name: "model.layers.0.mlp.down_proj", weight: data.tensor([outF, inF], std: 0.3))
        let params = AdapterParameters()
        let config = AdapterConfig(method: .vera, rank: 16, targets: ["down"], options: VeRAOptions(projectionSeed: 3, initialD: 0.5))
        let vera = VeRA(linear: linear, rank: config.rank, initialD: config.options(VeRAOptions.self).initialD, parameters: params,
                        shared: VeRAShared(rank: config.rank, seed: config.options(VeRAOptions.self).projectionSeed))
        params.seal()
        var rng = SeededGenerator(seed: 1)
        vera.initialize(rng: &rng)
        rng.fillNormal(params.value(vera.slotB), count: outF, std: 1)
        linear.adapter = vera
        let x = data.tensor([rows, inF]), w = data.normal(rows * outF), y = Tensor(shape: [rows, outF])
        func loss() -> Double { linear.forward(x.data, y.data, rows: rows); return weightedSum(y.data, w) }
        _ = loss()
        let dy = Tensor(shape: [rows, outF], values: w), dx = Tensor(shape: [rows, inF])
        params.grads.zero()
        linear.backward(dy.data, dx.data, input: x.data, rows: rows)
        let checker = GradCheck(eps: 1e-2, tol: 2e-3)
        let grads = params.grads.array
        checker.check("d", param: params.values.data, analytic: grads, indices: Array(params.slots[vera.slotD].range), loss: loss)
        checker.check("b", param: params.values.data, analytic: grads, indices: Array(params.slots[vera.slotB].range), loss: loss)
        checker.check("dX", param: x.data, analytic: dx.array, loss: loss)
    }

    @Test func everyLayerReadsTheSameProjectionBuffers() throws {
        let (model, set) = try adaptedModel(rank: 40)
        let c = model.config
        let shared = try #require(VeRA.projections(of: set))
        let maxIn = max(c.hiddenSize, c.intermediateSize, c.numHeads * c.headDim)
        #expect(shared.a.shape == [40, maxIn] && shared.b.shape == [max(c.hiddenSize, c.intermediateSize), 40])
        for (_, adapter) in set.modules {
            let vera = try #require(adapter as? VeRA)
            #expect(vera.shared === shared && vera.shared.a.data == shared.a.data && vera.shared.b.data == shared.b.data)
        }
        // The flat buffer holds the vectors only: Σ (r + out).
        let expected = set.modules.reduce(0) { $0 + 40 + model.linear(named: $1.name)!.outFeatures }
        #expect(set.parameters.count == expected)
        #expect(VeRA.trainableCount(config: set.config, model: c) == expected)
        #expect(set.parameters.slots.map(\.group).allSatisfy { $0 == "vera_lambda" })
        // PEFT's Kaiming-uniform bounds: √(6/maxIn) for A, √(6/r) for B.
        #expect(shared.a.array.allSatisfy { abs($0) <= (6 / Float(maxIn)).squareRoot() })
        #expect(shared.b.array.allSatisfy { abs($0) <= (6 / Float(40)).squareRoot() })
    }

    @Test func freshAdapterLeavesTheModelUnchanged() throws {
        let model = try Self.model()
        let tokens: [Int32] = [5, 9, 200, 3, 77]
        let before = try model.logits(tokens: tokens).array
        let set = try AdapterSet(model: model, config: AdapterConfig(method: .vera, rank: 32, targets: ["q", "v", "down"], options: VeRAOptions(initialD: 0.2)))
        #expect(try model.logits(tokens: tokens).array == before, "b = 0 at start: the adapted model is the base")
        let d = set.parameters.slots.first { $0.name.hasSuffix("q_proj.vera_lambda_d") }!
        #expect(d.shape == [32] && set.parameters.values.array[d.range].allSatisfy { $0 == 0.2 })
    }

    @Test func projectionsDependOnlyOnTheVeRASeed() throws {
        func projections(seed: UInt64, veraSeed: UInt64) throws -> [Float] {
            let set = try AdapterSet(model: Self.model(), config: AdapterConfig(method: .vera, rank: 16, seed: seed, options: VeRAOptions(projectionSeed: veraSeed)))
            let s = try #require(VeRA.projections(of: set))
            return s.a.array + s.b.array
        }
        let a = try projections(seed: 1, veraSeed: 7)
        #expect(try projections(seed: 2, veraSeed: 7) == a)
        #expect(try projections(seed: 1, veraSeed: 8) != a)
    }

    /// q, k, v read one input and gate, up another: A·x is computed once for each per block.
    @Test(arguments: [(["q", "k", "v", "o", "gate", "up", "down"], 4), (["k", "v"], 1), (["q", "up"], 2), (["o", "down"], 2)])
    func projectsEachSharedInputOnce(targets: [String], perBlock: Int) throws {
        let (model, set) = try adaptedModel(targets: targets)
        let shared = try #require(VeRA.projections(of: set))
        let (tokens, targetIDs, mask) = ModelFixture.batch(batch, seq, vocab: model.config.vocabSize)
        let before = shared.projections
        _ = try model.forward(tokens: tokens, targets: targetIDs, lossMask: mask, batch: batch, seq: seq)
        model.backward(lossScale: 1)
        #expect(shared.projections - before == perBlock * model.config.numLayers, "forward + backward")
        _ = try model.logits(tokens: [1, 2, 3])
        #expect(shared.projections - before == 2 * perBlock * model.config.numLayers, "inference")
    }

    /// Sharing A·x gives what each adapter computing its own would give.
    @Test func sharedProjectionEqualsPerTargetProjection() throws {
        let (model, set) = try adaptedModel(targets: ["q", "k", "v"])
        let tokens: [Int32] = [5, 9, 200, 3, 77, 8]
        let shared = try model.logits(tokens: tokens).array
        // Independent reference: base logits plus each adapter's term via its own merge.
        let merged = try Merge.mergedWeights(model: model, adapters: set)
        set.detach()
        let plain = try DecoderModel(config: model.config, weights: merged)
        let reference = try plain.logits(tokens: tokens).array
        let agree = RoundingBound.logitsAgree(shared, reference, model.config)
        #expect(agree.ok, "adapted vs merged logits differ by \(agree.relative) of the largest")
    }

    @Test func checkpointHoldsVectorsAndRegeneratesProjections() throws {
        let (_, set) = try adaptedModel(targets: ["q", "v"], rank: 32)
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-vera-ckpt-\(UUID().uuidString)")
        let optimizer = AdamW(parameterCount: set.parameters.count)
        try Checkpoints.save(step: 3, adapters: set, optimizer: optimizer, trainerState: Data("{}".utf8), runDirectory: run, keepLast: 1)
        let file = try SafeTensorsFile(path: run.appendingPathComponent("checkpoints/step-00000003/adapter.safetensors").path)
        #expect(file.tensors.allSatisfy { $0.name.hasSuffix("vera_lambda_d") || $0.name.hasSuffix("vera_lambda_b") })
        #expect(file.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } == set.parameters.count)

        // A "restart": a new process state builds everything again from the config.
        let fresh = try AdapterSet(model: Self.model(), config: set.config)
        _ = try Checkpoints.load(from: run, adapters: fresh, optimizer: AdamW(parameterCount: fresh.parameters.count))
        let a = try #require(VeRA.projections(of: set)), b = try #require(VeRA.projections(of: fresh))
        #expect(a !== b && a.a.array == b.a.array && a.b.array == b.b.array)
        #expect(fresh.parameters.values.array == set.parameters.values.array)

        var other = set.config
        other.options = VeRAOptions(projectionSeed: 6)
        let wrong = try AdapterSet(model: Self.model(), config: other)
        #expect(throws: TinhError.self) { try Checkpoints.load(from: run, adapters: wrong, optimizer: AdamW(parameterCount: wrong.parameters.count)) }
    }

    @Test func configsWithoutVeRAFieldsStillDecode() throws {
        let old = #"{"method":"lora","rank":8,"alpha":16,"rsLoRA":false,"targets":["q","v"],"seed":0}"#
        let c = try JSONDecoder().decode(AdapterConfig.self, from: Data(old.utf8))
        #expect(c.method == .lora && c.options(VeRAOptions.self) == VeRAOptions())
        let vera = try JSONDecoder().decode(AdapterConfig.self, from: Data(old.replacingOccurrences(of: #""lora""#, with: #""vera""#).utf8))
        #expect(vera.options(VeRAOptions.self).seed == nil && vera.options(VeRAOptions.self).projectionSeed == 0 && vera.options(VeRAOptions.self).initialD == 0.1)
        #expect(!String(decoding: try JSONEncoder().encode(AdapterConfig()), as: UTF8.self).contains("vera"))
    }

    @Test func badSettingsAreClearErrors() throws {
        let model = try Self.model()
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .vera, rank: 100_000)) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .vera, options: VeRAOptions(initialD: .nan))) }
        #expect(throws: TinhError.self) { try AdapterSet(model: model, config: AdapterConfig(method: .lora, options: VeRAOptions(projectionSeed: 1))) }
    }
}
