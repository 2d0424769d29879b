import Foundation
import Testing
@testable import Tinh

/// Every method that a LoRA file can carry gives factors whose product is its ΔW: the same as
/// the method's own merge (`addDelta`), within the rounding of two ways to form r-term sums.
@Suite struct LowRankFactorsTests {
    static let configs: [(String, AdapterConfig)] = [
        ("lora", AdapterConfig(method: .lora, rank: 4, alpha: 8, targets: AdapterConfig.targetOrder, seed: 2)),
        ("rslora", AdapterConfig(method: .lora, rank: 4, alpha: 8, rsLoRA: true, targets: ["q", "down"], seed: 2)),
        ("lora-plus", AdapterConfig(method: .loraPlus, rank: 4, alpha: 8, targets: ["q", "v"], seed: 2)),
        ("lora-fa", AdapterConfig(method: .loraFA, rank: 4, alpha: 8, targets: ["q", "k", "up"], seed: 2)),
        ("vera", AdapterConfig(method: .vera, rank: 16, targets: AdapterConfig.targetOrder, seed: 2)),
        ("adalora", AdapterConfig(method: .adalora, rank: 4, alpha: 8, targets: ["q", "v", "down"], seed: 2)),
    ]

    /// tiny with `config` attached and every trainable value random (AdaLoRA: some λ exactly 0, as pruning leaves them).
    static func adapted(_ config: AdapterConfig, seed: UInt64 = 0) throws -> (DecoderModel, AdapterSet) {
        let model = try TinyLlama.model(seed: seed)
        let set = try AdapterSet(model: model, config: config)
        var rng = SeededGenerator(seed: 17)
        rng.fillNormal(set.parameters.values.data, count: set.parameters.count, std: 0.3)
        for slot in set.parameters.slots where slot.group == "lora_E" {
            for k in stride(from: 0, to: slot.count, by: 2) { set.parameters.values.data[slot.offset + k] = 0 }
        }
        return (model, set)
    }

    /// |s|·Σ_k |B_ok|·|A_ki| in Double, the scale of each entry's rounding errors.
    static func magnitude(_ f: LowRankFactors) -> [Double] {
        let (out, n, r) = (f.b.shape[0], f.a.shape[1], f.rank)
        var m = [Double](repeating: 0, count: out * n)
        for o in 0..<out { for k in 0..<r { for i in 0..<n { m[o * n + i] += abs(Double(f.scale) * Double(f.b.data[o * r + k]) * Double(f.a.data[k * n + i])) } } }
        return m
    }

    @Test(arguments: configs.map(\.0))
    func factorsMultiplyToTheMethodsMerge(name: String) throws {
        let config = try #require(Self.configs.first { $0.0 == name }).1
        let (_, set) = try Self.adapted(config)
        for (module, adapter) in set.modules {
            let lowRank = try #require(adapter as? LowRankAdapter, "\(name): \(module) gives factors")
            let f = try lowRank.lowRankFactors()
            let delta = f.delta()
            let merged = Tensor(shape: delta.shape)
            lowRank.addDelta(to: merged.data)
            // Each side sums r products of ≤ 4 rounded factors (VeRA: b·B·d·A formed in two orders;
            // AdaLoRA: λ folded into Q) and scales once: each within γ_{r+4} of the exact sum.
            let bound = Self.magnitude(f).map { 2 * RoundingBound.gamma(config.rank + 4) * $0 }
            let worst = zip(zip(delta.array, merged.array), bound).map { abs(Double($0.0) - Double($0.1)) - $1 }.max() ?? 0
            #expect(worst <= 0, "\(name) \(module): factors vs merge beyond the bound by \(worst)")
            if name == "adalora" { #expect(f.rank == config.rank / 2, "pruned triplets are dropped: rank \(f.rank)") }
        }
    }

    /// PiSSA trained on the residual W − s·B₀·A₀; its factors are the change against the original W.
    @Test func pissaFactorsAreTheChangeOfTheOriginalWeight() throws {
        let config = AdapterConfig(method: .lora, rank: 4, alpha: 6, targets: ["q", "down"], seed: 3, options: LoRAOptions(pissa: true))
        let original = try TinyLlama.model(seed: 0)
        let (model, set) = try Self.adapted(config)
        for (module, adapter) in set.modules {
            let f = try #require(adapter as? LowRankAdapter).lowRankFactors()
            #expect(f.rank == 8, "rank 2r")
            let w0 = try #require(original.linear(named: module)).weight.dequantized()
            let residual = try #require(model.linear(named: module)).weight.dequantized()
            let delta = f.delta(), m = Self.magnitude(f)
            for j in 0..<delta.count {
                // The model holds residual + s·B·A, where residual = W − s·B₀·A₀ was rounded once
                // (u of its size plus γ_r of the product's); the factors hold s·B·A − s·B₀·A₀
                // (γ_{2r} of m). So W + Δ and residual + s·B·A agree within the sum of those.
                let change = Double(residual.data[j]) - Double(w0.data[j])
                let gap = Double(delta.data[j]) - change - (try Self.ownTerm(set, module, j))
                let bound = RoundingBound.u * (abs(Double(w0.data[j])) + m[j]) + 2 * RoundingBound.gamma(2 * config.rank + 2) * m[j]
                #expect(abs(gap) <= bound, "\(module)[\(j)]: \(gap) beyond \(bound)")
            }
        }
    }

    /// s·(B·A)[j] of the LoRA on `module` in Double.
    static func ownTerm(_ set: AdapterSet, _ module: String, _ j: Int) throws -> Double {
        let lora = try #require(set.modules.first { $0.name == module }?.adapter as? LoRA)
        let (n, r) = (lora.inFeatures, lora.rank)
        let a = set.parameters.value(lora.slotA), b = set.parameters.value(lora.slotB)
        let (o, i) = (j / n, j % n)
        var sum = 0.0
        for k in 0..<r { sum += Double(b[o * r + k]) * Double(a[k * n + i]) }
        return Double(lora.scale) * sum
    }
}
