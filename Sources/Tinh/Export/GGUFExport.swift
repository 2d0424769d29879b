import Foundation

/// `tinh export --format gguf-lora|gguf`: the adapter (from a PEFT directory or a training
/// checkpoint) on its base, written for llama.cpp.
public enum GGUFExport {
    public enum Format: String, CaseIterable, Sendable {
        case lora = "gguf-lora"
        case merged = "gguf"
    }

    /// Writes `adapters` (attached to `loaded`) as `format`; returns what to print.
    public static func write(_ format: Format, loaded: LoadedModel, adapters: AdapterSet, quant: GGMLType, to path: String,
                             budget: WriteBudget? = nil) throws -> [String] {
        let target = (path as NSString).expandingTildeInPath
        try AtomicDirectory.createDirectory(URL(fileURLWithPath: target).deletingLastPathComponent())
        let what = adapters.config.method.type.exportDescription(adapters.config)
        switch format {
        case .lora:
            let s = try GGUFLoRAExport.write(adapters: adapters, model: loaded.model, to: target,
                                             baseHash: try? ModelFileHash.of(loaded), budget: budget)
            let ranks = Set(s.ranks).sorted().map(String.init).joined(separator: ",")
            var lines = ["wrote \(target): llama.cpp LoRA adapter (\(what)), \(s.modules) weights, rank \(ranks), alpha \(s.alpha)"
                         + (s.folded ? " (scale folded into lora_b)" : "")]
            if !s.skipped.isEmpty { lines.append("note: \(s.skipped.count) modules had every triplet pruned (ΔW = 0) and were left out") }
            if loaded.gguf == nil {
                lines.append("note: \(loaded.spec) is not a GGUF file; llama.cpp needs it converted first (convert_hf_to_gguf.py), and the adapter then applies to that file")
            }
            return lines
        case .merged:
            guard let g = loaded.gguf else {
                throw TinhError.unsupported("a merged GGUF needs a GGUF base (its tokenizer and metadata are copied); \(loaded.spec) is not one. "
                    + "Convert the base with llama.cpp's convert_hf_to_gguf.py and pass that file as --model, or write a merged "
                    + "Hugging Face directory with `tinh merge`")
            }
            let s = try GGUFMergedExport.write(base: g, model: loaded.model, adapters: adapters, type: quant, to: target, budget: budget)
            var lines = ["wrote \(target): \(g.architecture ?? "") model with \(what) merged, matrices \(quant.name) "
                         + "(\(s.merged) merged, \(s.copied) copied as stored, \(s.reencoded) re-encoded)"]
            if !s.fallbacks.isEmpty { lines.append("note: \(s.fallbacks.count) matrices have rows that are not whole \(quant.name) blocks; written as F16") }
            return lines
        }
    }

    /// A checkpoint's adapter attached to `model` through its PEFT form, written to a temporary
    /// directory: the conversions PEFT users get (PiSSA's rank-2r LoRA, AdaLoRA's kept triplets).
    public static func attachCheckpoint(_ url: URL, to model: DecoderModel) throws -> AdapterSet {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-export-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let checkpoint = try PEFTExport.write(checkpoint: url, baseModelName: nil, to: temporary)
        let method = checkpoint.state.adapter.method.type
        if method.movesBaseWeights || method.trainsWholeModel, let reason = method.lowRankRefusal {
            throw TinhError.unsupported("exporting this \(checkpoint.state.adapter.method.name) checkpoint for llama.cpp from its adapter alone: \(reason)")
        }
        return try PEFTAdapter.load(dir: temporary.path, into: model)
    }
}
