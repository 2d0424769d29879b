/// The way back from Hugging Face names to llama.cpp's: what a GGUF writer needs.
extension GGUFModelLoader {
    /// llama.cpp's architecture name for a family (Mistral converts as "llama").
    public static func architecture(of family: ArchitectureSpec.Family) -> String {
        switch family {
        case .llama, .mistral: return "llama"
        case .qwen2: return "qwen2"
        case .qwen3: return "qwen3"
        case .gemma2: return "gemma2"
        case .gemma3: return "gemma3"
        case .phi3: return "phi3"
        }
    }

    /// Hugging Face tensor name -> GGUF name in `family`'s layout (the inverse of `hfName`), or
    /// nil for a name llama.cpp's layout does not have.
    public static func ggufName(_ hf: String, family: ArchitectureSpec.Family) -> String? {
        switch hf {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let prefix = "model.layers."
        guard hf.hasPrefix(prefix) else { return nil }
        let rest = hf.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let tail = rest[rest.index(after: dot)...]
        guard let last = tail.lastIndex(of: ".") else { return nil }
        let (module, kind) = (String(tail[..<last]), String(tail[tail.index(after: last)...]))
        guard kind == "weight" || kind == "bias" else { return nil }
        // The family's own names win over the shared ones (Gemma's two post norms, Phi-3's ffn_up).
        let own = familyParts[family] ?? [:]
        let part = own.first(where: { $0.value == module })?.key
            ?? blockParts.first(where: { $0.value == module && own[$0.key] == nil })?.key
        guard let part else { return nil }
        let name = "blk.\(layer).\(part).\(kind)"
        return hfName(name, family: family) == hf ? name : nil
    }
}
