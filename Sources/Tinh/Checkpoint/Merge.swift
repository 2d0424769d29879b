import Foundation

/// An adapter whose effect is a fixed change of its Linear's weight, so it can be merged:
/// W' = W + ΔW with W [out, in].
public protocol MergeableAdapter: LinearAdapter {
    /// Adds ΔW into `weight` ([out, in], row-major).
    func addDelta(to weight: UnsafeMutablePointer<Float>)
}

/// Folds adapters into the base weights and writes a Hugging Face model directory:
/// `model.safetensors` (or the given name) + `config.json`, plus the tokenizer files when the
/// base came from a Hugging Face directory. A GGUF base has no tokenizer.json to copy; Tinh does
/// not write one yet, so such a merged directory needs the original model's tokenizer files.
public enum Merge {
    /// Files copied from the base model's directory when present.
    public static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]

    /// Every base tensor under its Hugging Face name; adapted weights are merged copies (the
    /// base is never modified). A tied head stays tied: no lm_head.weight. A quantized base is
    /// written dequantized (Float32), as PEFT merges into a 4-bit base.
    public static func mergedWeights(model: DecoderModel, adapters: AdapterSet) throws -> [String: Tensor] {
        var weights: [String: Tensor] = ["model.embed_tokens.weight": model.embedTokens, model.finalNorm.name: model.finalNorm.weight]
        if !model.isTied { weights["lm_head.weight"] = model.lmHead.weight.dequantized() }
        for block in model.blocks {
            for norm in block.norms { weights[norm.name] = norm.weight }
            for linear in block.linears {
                weights[linear.name + ".weight"] = (linear.weight as? F32Weight)?.tensor ?? linear.weight.dequantized()
                if let bias = linear.bias { weights[linear.name + ".bias"] = bias }
            }
        }
        for (name, adapter) in adapters.modules {
            guard let mergeable = adapter as? MergeableAdapter else {
                throw TinhError.unsupported("merging method '\(adapters.config.method.name)' into the base weights")
            }
            guard let linear = model.linear(named: name), let attached = linear.adapter, attached as AnyObject === adapter as AnyObject else {
                throw TinhError.invalidInput("merge: the adapter on '\(name)' is not attached to this model")
            }
            if linear === model.lmHead, model.isTied {
                throw TinhError.unsupported("merging an adapter on a tied lm_head (it would untie the embedding)")
            }
            let merged = linear.weight.dequantized()
            mergeable.addDelta(to: merged.data)
            weights[name + ".weight"] = merged
        }
        try DecoderWeightNames.validate(weights, config: model.config, source: "merged model")
        return weights
    }

    /// Writes the merged weights to `file`, `config.json` beside it, and the tokenizer files of
    /// `tokenizerSource` (a Hugging Face directory) if given. Returns the paths written. The files
    /// count against `budget`, if any.
    @discardableResult
    public static func write(model: DecoderModel, adapters: AdapterSet, to file: String, tokenizerSource: String? = nil,
                             special: SpecialTokenIds? = nil, budget: WriteBudget? = nil) throws -> [String] {
        let target = URL(fileURLWithPath: (file as NSString).expandingTildeInPath).standardizedFileURL
        guard target.pathExtension == "safetensors" else {
            throw TinhError.invalidInput("merge: --out must name a .safetensors file, got \(file)")
        }
        let directory = target.deletingLastPathComponent()
        try AtomicDirectory.createDirectory(directory)
        // A model directory must hold one set of weights, or loaders would read both.
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if let other = existing.sorted().first(where: { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") && $0 != target.lastPathComponent }) {
            throw TinhError.invalidInput("merge: \(directory.path) already holds \(other); write the merged model to a directory of its own")
        }
        let weights = try mergedWeights(model: model, adapters: adapters)
        try SafeTensorsWriter.write(weights, metadata: ["format": "pt"], to: target.path, budget: budget)
        let configPath = directory.appendingPathComponent("config.json").path
        try AtomicFile.write(configJSON(model.config, special: special), to: configPath, budget: budget)
        var written = [target.path, configPath]
        if let source = tokenizerSource {
            let from = URL(fileURLWithPath: source, isDirectory: true).standardizedFileURL
            guard from != directory else { return written }
            for name in tokenizerFiles {
                let src = from.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: src.path) else { continue }
                let data: Data
                do { data = try Data(contentsOf: src) } catch {
                    throw TinhError.badFile(path: src.path, reason: "cannot read: \(error.localizedDescription)")
                }
                let dst = directory.appendingPathComponent(name).path
                try AtomicFile.write(data, to: dst, budget: budget)
                written.append(dst)
            }
        }
        return written
    }
}

extension Merge {
    /// Merges into a loaded model's directory layout: tokenizer files are copied when the model came
    /// from a Hugging Face directory; otherwise `note` says that none were written.
    public static func write(loaded: LoadedModel, adapters: AdapterSet, to file: String,
                             budget: WriteBudget? = nil) throws -> (files: [String], note: String?) {
        var isDirectory: ObjCBool = false
        let hfDirectory = loaded.path.flatMap { FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue ? $0 : nil }
        let files = try write(model: loaded.model, adapters: adapters, to: file, tokenizerSource: hfDirectory,
                              special: loaded.tokenizer.specialIds, budget: budget)
        let note = hfDirectory == nil
            ? "\(loaded.spec) is not a Hugging Face directory, so no tokenizer files were written (Tinh cannot write tokenizer.json yet); copy the original model's tokenizer.json and tokenizer_config.json beside the weights to load them"
            : nil
        return (files, note)
    }
}
