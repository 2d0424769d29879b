import Foundation

/// Writes an adapter as llama.cpp's LoRA GGUF (`llama-server --lora`, ollama's `ADAPTER`):
/// `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and per adapted
/// weight `blk.N.<name>.weight.lora_a` (ne [in, r], Hugging Face [r, in]) and `.lora_b`
/// (ne [r, out]). llama.cpp adds scale·B·(A·x) with scale = alpha / r (alpha ≠ 0) or 1 (alpha = 0).
///
/// Every method whose ΔW is a low-rank product (`LowRankAdapter`) converts exactly; others are
/// refused with their method's reason. For "llama" GGUFs the converter permuted attn_q/attn_k's
/// rows per head (`RopePermutation`), so lora_b's rows are permuted the same way; A is untouched.
public enum GGUFLoRAExport {
    public struct Summary {
        public var modules = 0
        public var ranks: [Int] = []
        public var alpha: Float = 0
        /// Whether the scale was folded into B (alpha written as 0 or r).
        public var folded = false
        public var skipped: [String] = []
    }

    /// `baseHash`, when known, is recorded as `tinh.base.hash` so a mismatched base can be named.
    @discardableResult
    public static func write(adapters: AdapterSet, model: DecoderModel, to path: String, baseHash: String? = nil,
                             budget: WriteBudget? = nil) throws -> Summary {
        let method = adapters.config.method.type
        if let reason = method.lowRankRefusal {
            throw TinhError.unsupported("a \(adapters.config.method.name) adapter as a GGUF LoRA: \(reason)")
        }
        let family = model.config.spec.family
        let arch = GGUFModelLoader.architecture(of: family)
        var factors: [(gguf: String, hf: String, f: LowRankFactors)] = []
        var summary = Summary()
        for (name, adapter) in adapters.modules {
            guard let lowRank = adapter as? LowRankAdapter else {
                throw TinhError.unsupported("module \(name) of this \(adapters.config.method.name) adapter is not a low-rank product")
            }
            let hf = name + ".weight"
            guard let gguf = GGUFModelLoader.ggufName(hf, family: family) else {
                throw TinhError.unsupported("\(name) has no tensor in llama.cpp's \(arch) layout")
            }
            if model.isTied, model.linear(named: name) === model.lmHead {
                throw TinhError.unsupported("an adapter on a tied lm_head: llama.cpp computes the output from token_embd, which has no such adapter")
            }
            let f = try lowRank.lowRankFactors()
            guard f.rank > 0 else { summary.skipped.append(name); continue }  // every triplet pruned: ΔW = 0
            let heads = GGUFModelLoader.permutedHeads(hf, config: model.config, architecture: arch)
            let b = try heads.map { try RopePermutation.permute(f.b, heads: $0) } ?? f.b
            factors.append((gguf, hf, LowRankFactors(a: f.a, b: b, scale: f.scale)))
        }
        guard !factors.isEmpty else { throw TinhError.invalidInput("the adapter changes no weight: nothing to export") }

        // One alpha for the file: keep (A, B) as trained when every module has the same rank r and
        // scale s and alpha = s·r gives s back exactly in llama.cpp's alpha / r; else fold s into B.
        let ranks = Set(factors.map(\.f.rank)), scales = Set(factors.map(\.f.scale))
        var alpha: Float = 0
        if ranks.count == 1, scales.count == 1, let r = ranks.first, let s = scales.first, s * Float(r) / Float(r) == s {
            alpha = s * Float(r)
        } else {
            summary.folded = true
            for (i, e) in factors.enumerated() {
                let b = Tensor(shape: e.f.b.shape)
                for j in 0..<b.count { b.data[j] = e.f.b.data[j] * e.f.scale }
                factors[i].f = LowRankFactors(a: e.f.a, b: b, scale: 1)
            }
            alpha = ranks.count == 1 ? Float(ranks.first ?? 0) : 0
        }
        summary.alpha = alpha
        summary.modules = factors.count
        summary.ranks = factors.map(\.f.rank)

        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("adapter")),
            ("general.name", .string("tinh \(adapters.config.method.name) adapter")),
            ("adapter.type", .string("lora")),
            ("adapter.lora.alpha", .float32(alpha)),
            ("tinh.method", .string(method.exportDescription(adapters.config))),
        ]
        if let baseHash { metadata.append(("tinh.base.hash", .string(baseHash))) }
        var tensors: [GGUFWriter.Tensor] = []
        for e in factors.sorted(by: { GGUFLoRAExport.order($0.gguf) < GGUFLoRAExport.order($1.gguf) }) {
            tensors.append(f32(e.gguf + ".lora_a", e.f.a))
            tensors.append(f32(e.gguf + ".lora_b", e.f.b))
        }
        try withExtendedLifetime(factors) {
            try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path, budget: budget)
        }
        return summary
    }

    /// A [rows, cols] Float32 tensor as GGUF ne [cols, rows].
    static func f32(_ name: String, _ t: Tensor) -> GGUFWriter.Tensor {
        GGUFWriter.Tensor(name: name, ne: t.shape.reversed(), type: .f32) { dst in
            try GGMLEncode.run(.f32, t.data, count: t.count, into: dst)
        }
    }

    /// Layer-major order (blk.2 before blk.10), then by name.
    static func order(_ gguf: String) -> (Int, String) {
        let parts = gguf.split(separator: ".")
        return (parts.count > 1 ? Int(parts[1]) ?? -1 : -1, gguf)
    }
}
