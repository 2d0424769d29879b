import Foundation
import Testing
@testable import Tinh

/// `tinh adapters merge`: cat is the exact sum, linear with weights (1, 0) is the first adapter,
/// TIES and DARE follow their definitions, and mixed ranks and targets round-trip as one rank.
@Suite struct AdapterAlgebraTests {
    /// Two LoRAs on tiny with different ranks and targets, B random.
    static func twoAdapters(ranks: (Int, Int) = (2, 4), targets: ([String], [String]) = (["q", "v"], ["q", "down"])) throws
        -> (DecoderModel, [[String: LowRankFactors]]) {
        var inputs: [[String: LowRankFactors]] = []
        let model = try TinyLlama.model(seed: 0)
        for (i, (rank, t)) in [(ranks.0, targets.0), (ranks.1, targets.1)].enumerated() {
            let set = try AdapterSet(model: model, config: AdapterConfig(rank: rank, alpha: Float(3 + i), targets: t, seed: UInt64(i)))
            var rng = SeededGenerator(seed: UInt64(40 + i))
            for slot in set.parameters.slots where slot.group == "lora_B" {
                rng.fillNormal(set.parameters.values.data + slot.offset, count: slot.count, std: 0.3)
            }
            inputs.append(try AdapterAlgebra.factors(of: set))
            set.detach()
        }
        return (model, inputs)
    }

    /// Writes `combined` as PEFT and loads it back onto a fresh tiny: its factors by module.
    static func roundTrip(_ combined: [String: LowRankFactors]) throws -> (AdapterSet, [String: LowRankFactors]) {
        let dir = try CheckpointFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterAlgebra.writePEFT(combined, model: try TinyLlama.model(seed: 0), baseModelName: "tiny", to: dir)
        let set = try PEFTAdapter.load(dir: dir.path, into: try TinyLlama.model(seed: 0))
        return (set, try AdapterAlgebra.factors(of: set))
    }

    @Test func catOfTwoAdaptersIsApplyingBoth() throws {
        let (_, inputs) = try Self.twoAdapters()
        let combined = try AdapterAlgebra.combine(inputs, options: .init(combination: .cat, weights: [1, 1]))
        let (set, loaded) = try Self.roundTrip(combined)
        #expect(set.config.rank == 6 && set.config.alpha == 6, "one rank for all: the largest sum (2 + 4 on q), alpha = r")
        #expect(Set(loaded.keys) == Set(inputs[0].keys).union(inputs[1].keys).union(set.modules.map(\.name)))
        for (module, f) in loaded {
            let parts = inputs.compactMap { $0[module]?.delta() }
            let delta = f.delta(), magnitudes = LowRankFactorsTests.magnitude(f)
            for j in 0..<delta.count {
                let want = parts.reduce(0.0) { $0 + Double($1.data[j]) }
                // Both sides sum the same r ≤ 6 products (folded scales: one rounding each).
                #expect(abs(Double(delta.data[j]) - want) <= 3 * RoundingBound.gamma(8) * magnitudes[j], "\(module)[\(j)]")
            }
        }
        // The result is one rank for every module, so it converts for llama.cpp as well.
        let url = try GGUFWriterTests.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(try GGUFLoRAExport.write(adapters: set, model: try TinyLlama.model(seed: 0), to: url.path).modules == set.modules.count)
    }

    @Test func linearWithWeightsOneAndZeroIsTheFirstAdapter() throws {
        let (_, inputs) = try Self.twoAdapters(ranks: (4, 4), targets: (["q", "v"], ["q", "v"]))
        let combined = try AdapterAlgebra.combine(inputs, options: .init(combination: .linear, weights: [1, 0]))
        let (_, loaded) = try Self.roundTrip(combined)
        for (module, first) in inputs[0] {
            let f = try #require(loaded[module])
            #expect(f.a.array == first.a.array && f.b.array == first.b.array, "\(module): bit for bit (√1 = 1, 0·x = 0)")
        }
    }

    @Test func tiesTrimsElectsAndAveragesTheAgreeingEntries() {
        let x1 = Tensor(shape: [4], values: [3, -1, 0.5, 2]), x2 = Tensor(shape: [4], values: [-1, -2, 0.25, 2])
        var rng = SeededGenerator(seed: 0)
        let full = AdapterAlgebra.combine([x1, x2], weights: [1, 1], options: .init(combination: .ties, weights: [1, 1], density: 1), rng: &rng)
        #expect(full.array == [3, -1.5, 0.375, 2], "signs +, −, +, + elected from the sums; means of the agreeing entries")
        // density 0.5 keeps 2 of 4: x1 → [3, 0, 0, 2], x2 → [0, −2, 0, 2] (|−2| = |2|: the lower index first).
        let half = AdapterAlgebra.combine([x1, x2], weights: [1, 1], options: .init(combination: .ties, weights: [1, 1], density: 0.5), rng: &rng)
        #expect(half.array == [3, -2, 0, 2])
    }

    @Test func dareDropsWithTheSeedAndKeepsTheExpectation() throws {
        let (_, inputs) = try Self.twoAdapters(ranks: (4, 4), targets: (["q", "v"], ["q", "v"]))
        let linear = try AdapterAlgebra.combine(inputs, options: .init(combination: .linear, weights: [0.7, 0.3]))
        let keepAll = try AdapterAlgebra.combine(inputs, options: .init(combination: .dare, weights: [0.7, 0.3], density: 1, seed: 3))
        for (m, f) in linear { #expect(keepAll[m]?.a.array == f.a.array && keepAll[m]?.b.array == f.b.array, "density 1 is linear") }
        let a = try AdapterAlgebra.combine(inputs, options: .init(combination: .dare, weights: [0.7, 0.3], density: 0.3, seed: 3))
        let b = try AdapterAlgebra.combine(inputs, options: .init(combination: .dare, weights: [0.7, 0.3], density: 0.3, seed: 3))
        let c = try AdapterAlgebra.combine(inputs, options: .init(combination: .dare, weights: [0.7, 0.3], density: 0.3, seed: 4))
        #expect(a.keys.allSatisfy { a[$0]?.a.array == b[$0]?.a.array }, "the same seed drops the same entries")
        #expect(a.keys.contains { a[$0]?.a.array != c[$0]?.a.array }, "another seed drops others")
        // One input with weight 1: the share of non-zero entries is Binomial(n, 0.3)/n; within 6σ.
        let single = try AdapterAlgebra.combine([inputs[0]], options: .init(combination: .dare, weights: [1], density: 0.3, seed: 9))
        let values = single.values.flatMap { $0.a.array }
        let n = Double(values.count), share = Double(values.filter { $0 != 0 }.count) / n
        #expect(abs(share - 0.3) <= 6 * (0.3 * 0.7 / n).squareRoot(), "kept \(share) of \(Int(n))")
    }

    @Test func badInputIsRefused() throws {
        let (_, inputs) = try Self.twoAdapters()
        #expect(throws: TinhError.invalidInput("--weights has 1 values for 2 adapters")) {
            try AdapterAlgebra.combine(inputs, options: .init(combination: .cat, weights: [1]))
        }
        #expect(throws: TinhError.self) { try AdapterAlgebra.combine(inputs, options: .init(combination: .ties, weights: [1, 1], density: 0)) }
        let dora = try AdapterSet(model: try TinyLlama.model(seed: 0), config: AdapterConfig(method: .dora, rank: 2))
        #expect(throws: TinhError.self, "DoRA is not a LoRA") { try AdapterAlgebra.factors(of: dora) }
    }
}
