import Foundation

/// Folds an adapter into its GGUF base and writes a complete GGUF that llama.cpp runs: every
/// metadata entry of the base (architecture, hyperparameters, tokenizer, chat template) in its
/// order, `general.file_type` set for the new matrices, and every tensor in the base's order.
///
/// - Adapted matrices: the base's Float32 weight (as Tinh holds it, Hugging Face row order) plus
///   the method's ΔW (`MergeableAdapter`), rows permuted back for llama's attn_q/attn_k, then
///   quantized once to `type` from those merged Float32 values.
/// - Other matrices: copied byte for byte when already `type`, else decoded and re-encoded
///   (quantization works on blocks within a row, so it needs no permutation).
/// - Vectors (norms, biases, rope_freqs) keep their stored bytes, as llama.cpp's quantizer does.
/// - A matrix whose rows are not whole blocks of `type` is written as F16 (llama.cpp's fallback).
/// - With Q4_0, the matrix that makes the logits (output.weight, or a tied token_embd) is Q8_0:
///   llama.cpp's quantizer keeps it finer too (Q6_K, or Q8_0 when rows are not 256-blocks; Tinh
///   writes no K-quants, so Q8_0 always).
public enum GGUFMergedExport {
    public struct Summary {
        public var merged = 0
        public var copied = 0
        public var reencoded = 0
        public var fallbacks: [String] = []
    }

    @discardableResult
    public static func write(base g: GGUFFile, model: DecoderModel, adapters: AdapterSet, type: GGMLType, to path: String,
                             budget: WriteBudget? = nil) throws -> Summary {
        guard GGMLEncode.types.contains(type) else { _ = try GGMLEncode.parse(type.name); return Summary() }
        let family = model.config.spec.family
        var adapted: [String: MergeableAdapter] = [:]
        for (name, adapter) in adapters.modules {
            guard let m = adapter as? MergeableAdapter else {
                throw TinhError.unsupported("merging method '\(adapters.config.method.name)' into the base weights")
            }
            if model.isTied, model.linear(named: name) === model.lmHead {
                throw TinhError.unsupported("merging an adapter on a tied lm_head (it would untie the embedding)")
            }
            adapted[name + ".weight"] = m
        }
        var summary = Summary()
        var tensors: [GGUFWriter.Tensor] = []
        var found = Set<String>()
        let logitsMatrix = g.info("output.weight") != nil ? "output.weight" : "token_embd.weight"
        for info in g.tensors {
            let hf = GGUFModelLoader.hfName(info.name, family: family)
            let isMatrix = info.ne.count >= 2 && info.name != GGUFModelLoader.ropeFrequencyFactors
            var target = isMatrix ? type : info.type
            if type == .q4_0, info.name == logitsMatrix { target = .q8_0 }
            if let layout = target.blockLayout, info.ne[0] % layout.elements != 0 {
                target = .f16
                summary.fallbacks.append(info.name)
            }
            let ne = info.ne
            if let hf, let adapter = adapted[hf] {
                found.insert(hf)
                summary.merged += 1
                let module = String(hf.dropLast(".weight".count))
                guard let linear = model.linear(named: module) else {
                    throw TinhError.invalidInput("merge: the model has no Linear \(module)")
                }
                let heads = GGUFModelLoader.permutedHeads(hf, config: model.config, architecture: g.architecture)
                tensors.append(GGUFWriter.Tensor(name: info.name, ne: ne, type: target) { dst in
                    var w = linear.weight.dequantized()
                    guard w.shape == info.shape else {
                        throw TinhError.invalidInput("merge: \(module) is \(w.shape) in the model but \(info.shape) in \(g.path)")
                    }
                    adapter.addDelta(to: w.data)
                    if let heads { w = try RopePermutation.permute(w, heads: heads) }
                    try GGMLEncode.run(target, w.data, count: w.count, into: dst)
                })
            } else if target == info.type {
                summary.copied += 1
                tensors.append(GGUFWriter.Tensor(name: info.name, ne: ne, type: target) { dst in
                    let (_, raw) = try g.rawData(info.name)
                    guard raw.count == dst.count, let from = raw.baseAddress, let to = dst.baseAddress else { return }
                    to.copyMemory(from: from, byteCount: raw.count)
                })
            } else {
                summary.reencoded += 1
                tensors.append(GGUFWriter.Tensor(name: info.name, ne: ne, type: target) { dst in
                    let t = try g.tensor(info.name)
                    try GGMLEncode.run(target, t.data, count: t.count, into: dst)
                })
            }
        }
        if let missing = adapted.keys.sorted().first(where: { !found.contains($0) }) {
            throw TinhError.invalidInput("merge: the adapter changes \(missing), which \(g.path) does not hold")
        }
        var metadata: [(key: String, value: GGUFValue)] = []
        for key in g.metadataKeys where !["general.alignment", "general.file_type", "tinh.merged_adapter"].contains(key) {
            guard let value = g.metadata[key] else { continue }
            metadata.append((key, value))
        }
        metadata.append(("general.file_type", .uint32(GGMLEncode.fileType(type))))
        metadata.append(("tinh.merged_adapter", .string(adapters.config.method.type.exportDescription(adapters.config))))
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path, budget: budget)
        return summary
    }
}
