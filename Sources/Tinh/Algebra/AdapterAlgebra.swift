import Foundation

/// Combines several adapters on one base into one LoRA (`AdapterCombination`), and writes it as a
/// PEFT LoRA directory of one rank for every module: modules an input lacks, and inputs of lower
/// rank, are padded with zero rows of A and columns of B, which change no ΔW. So the result reloads
/// in Tinh, in PEFT (no rank_pattern to lose, unlike peft#3737) and exports to llama.cpp.
public enum AdapterAlgebra {
    public struct Options: Sendable {
        public var combination: AdapterCombination
        public var weights: [Float]
        public var density: Float = 1
        public var seed: UInt64 = 0

        public init(combination: AdapterCombination, weights: [Float], density: Float = 1, seed: UInt64 = 0) {
            self.combination = combination
            self.weights = weights
            self.density = density
            self.seed = seed
        }
    }

    /// Each input adapter's factors by module name, in LoRA form (any `LowRankAdapter` method).
    public static func factors(of set: AdapterSet) throws -> [String: LowRankFactors] {
        if let reason = set.config.method.type.lowRankRefusal {
            throw TinhError.unsupported("combining a \(set.config.method.name) adapter: \(reason)")
        }
        var out: [String: LowRankFactors] = [:]
        for (name, adapter) in set.modules {
            guard let lowRank = adapter as? LowRankAdapter else {
                throw TinhError.unsupported("combining \(set.config.method.name): \(name) is not a low-rank product")
            }
            out[name] = try lowRank.lowRankFactors().folded()
        }
        return out
    }

    /// The combination of `inputs` (factors by module, scales folded) per module; modules are the union.
    public static func combine(_ inputs: [[String: LowRankFactors]], options o: Options) throws -> [String: LowRankFactors] {
        guard inputs.count >= 1, o.weights.count == inputs.count else {
            throw TinhError.invalidInput("--weights has \(o.weights.count) values for \(inputs.count) adapters")
        }
        guard o.weights.allSatisfy(\.isFinite) else { throw TinhError.invalidInput("--weights must be finite numbers") }
        guard o.density > 0, o.density <= 1 else { throw TinhError.invalidInput("--density must be in (0, 1], got \(o.density)") }
        var rng = SeededGenerator(seed: o.seed)
        var out: [String: LowRankFactors] = [:]
        let modules = Set(inputs.flatMap(\.keys)).sorted()
        for module in modules {
            let present = inputs.compactMap { $0[module] }
            guard let first = present.first else { continue }
            let (outFeatures, inFeatures) = (first.b.shape[0], first.a.shape[1])
            if let bad = present.first(where: { $0.b.shape[0] != outFeatures || $0.a.shape[1] != inFeatures }) {
                throw TinhError.invalidInput("\(module) is \(outFeatures)×\(inFeatures) in one adapter and \(bad.b.shape[0])×\(bad.a.shape[1]) in another: not the same base")
            }
            let terms = inputs.map { $0[module] ?? LowRankFactors.zero(out: outFeatures, in: inFeatures, rank: 0) }
            switch o.combination {
            case .cat: out[module] = concatenated(terms, weights: o.weights)
            default:
                let rank = terms.map(\.rank).max() ?? 0
                let padded = terms.map { $0.padded(to: rank) }
                out[module] = elementwise(padded, options: o, rng: &rng)
            }
        }
        return out
    }

    static func concatenated(_ terms: [LowRankFactors], weights: [Float]) -> LowRankFactors {
        let (outFeatures, inFeatures) = (terms[0].b.shape[0], terms[0].a.shape[1])
        let rank = terms.reduce(0) { $0 + $1.rank }
        let a = Tensor(shape: [rank, inFeatures]), b = Tensor(shape: [outFeatures, rank])
        var at = 0
        for (t, w) in zip(terms, weights) {
            (a.data + at * inFeatures).update(from: t.a.data, count: t.a.count)
            for o in 0..<outFeatures {
                for k in 0..<t.rank { b.data[o * rank + at + k] = w * t.b.data[o * t.rank + k] }
            }
            at += t.rank
        }
        return LowRankFactors(a: a, b: b, scale: 1)
    }

    /// linear / ties / dare on A and on B separately, with √|w| on A and sign(w)·√|w| on B.
    static func elementwise(_ terms: [LowRankFactors], options o: Options, rng: inout SeededGenerator) -> LowRankFactors {
        let root = o.weights.map { Float(Double(abs($0)).squareRoot()) }
        let signed = zip(root, o.weights).map { $1 < 0 ? -$0 : $0 }
        let a = combine(terms.map(\.a), weights: root, options: o, rng: &rng)
        let b = combine(terms.map(\.b), weights: signed, options: o, rng: &rng)
        return LowRankFactors(a: a, b: b, scale: 1)
    }

    static func combine(_ tensors: [Tensor], weights: [Float], options o: Options, rng: inout SeededGenerator) -> Tensor {
        let n = tensors[0].count
        let out = Tensor(shape: tensors[0].shape)
        switch o.combination {
        case .linear, .cat:
            for (t, w) in zip(tensors, weights) { for j in 0..<n { out.data[j] += w * t.data[j] } }
        case .dare:
            let keep = o.density
            for (t, w) in zip(tensors, weights) {
                for j in 0..<n where rng.nextFloat() < keep { out.data[j] += w * (t.data[j] / keep) }
            }
        case .ties:
            let weighted = zip(tensors, weights).map { t, w in trimmed(t, density: o.density).map { $0 * w } }
            for j in 0..<n {
                var sum: Float = 0
                for x in weighted { sum += x[j] }
                guard sum != 0 else { continue }
                var agreeing: Float = 0, count = 0
                for x in weighted where x[j] != 0 && (x[j] > 0) == (sum > 0) { agreeing += x[j]; count += 1 }
                out.data[j] = count > 0 ? agreeing / Float(count) : 0
            }
        }
        return out
    }

    /// `t` with all but its ⌈density·n⌉ largest-magnitude entries zeroed (ties kept by lower index).
    static func trimmed(_ t: Tensor, density: Float) -> [Float] {
        let values = t.array
        let keep = min(values.count, Int((Double(density) * Double(values.count)).rounded(.up)))
        guard keep < values.count else { return values }
        let order = values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }
        var out = [Float](repeating: 0, count: values.count)
        for j in order.prefix(keep) { out[j] = values[j] }
        return out
    }

    /// Writes `factors` as a PEFT LoRA of rank R = the largest (alpha = R, so the scale is 1) by
    /// attaching a LoRA to `model` and exporting it through the same path training uses.
    @discardableResult
    public static func writePEFT(_ factors: [String: LowRankFactors], model: DecoderModel, baseModelName: String?, to directory: URL) throws -> AdapterSet {
        let rank = factors.values.map(\.rank).max() ?? 0
        guard rank > 0 else { throw TinhError.invalidInput("the combination changes no weight: nothing to write") }
        let suffixes = AdapterConfig.moduleNames
        var targets = Set<String>()
        for module in factors.keys {
            guard let key = suffixes.first(where: { module.hasSuffix("." + $0.value) })?.key else {
                throw TinhError.unsupported("\(module) is not a projection Tinh adapts")
            }
            targets.insert(key)
        }
        let order = AdapterConfig.targets(for: model.config.spec.projections)
        let config = AdapterConfig(method: .lora, rank: rank, alpha: Float(rank), targets: order.filter(targets.contains))
        let set = try AdapterSet(model: model, config: config)
        for (name, adapter) in set.modules {
            guard let lora = adapter as? LoRA else { continue }
            let f = (factors[name] ?? .zero(out: lora.outFeatures, in: lora.inFeatures, rank: rank)).padded(to: rank)
            guard f.a.shape == [rank, lora.inFeatures], f.b.shape == [lora.outFeatures, rank] else {
                throw TinhError.invalidInput("\(name): the adapters' shapes \(f.b.shape)·\(f.a.shape) do not fit this base")
            }
            set.parameters.value(lora.slotA).update(from: f.a.data, count: f.a.count)
            set.parameters.value(lora.slotB).update(from: f.b.data, count: f.b.count)
        }
        try PEFTExport.write(adapters: set, baseModelName: baseModelName, to: directory)
        return set
    }
}

extension LowRankFactors {
    /// The same ΔW with the scale folded into B (scale 1).
    func folded() -> LowRankFactors {
        guard scale != 1 else { return self }
        let b = Tensor(shape: self.b.shape)
        for j in 0..<b.count { b.data[j] = self.b.data[j] * scale }
        return LowRankFactors(a: a, b: b, scale: 1)
    }

    /// The same ΔW at a higher rank: zero rows of A, zero columns of B (scale folded).
    func padded(to rank: Int) -> LowRankFactors {
        let f = folded()
        guard rank > f.rank else { return f }
        let (outFeatures, inFeatures) = (f.b.shape[0], f.a.shape[1])
        let a = Tensor(shape: [rank, inFeatures]), b = Tensor(shape: [outFeatures, rank])
        a.data.update(from: f.a.data, count: f.a.count)
        for o in 0..<outFeatures { (b.data + o * rank).update(from: f.b.data + o * f.rank, count: f.rank) }
        return LowRankFactors(a: a, b: b, scale: 1)
    }

    static func zero(out: Int, in inFeatures: Int, rank: Int) -> LowRankFactors {
        LowRankFactors(a: Tensor(shape: [rank, inFeatures]), b: Tensor(shape: [out, rank]), scale: 1)
    }
}
