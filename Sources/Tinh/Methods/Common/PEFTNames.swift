/// Tensor names in Hugging Face PEFT's adapter files: the model's module path under
/// `base_model.model.`, e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
public enum PEFTNames {
    public static let prefix = "base_model.model."

    public static func module(_ linearName: String) -> String { prefix + linearName }

    /// The module path inside the base model for a PEFT key, and the rest ("lora_A.weight").
    public static func split(_ key: String) -> (module: String, tensor: String)? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.dropFirst(prefix.count)
        for marker in [".lora_", ".vera_", ".lora_magnitude"] {
            if let r = rest.range(of: marker) {
                return (String(rest[..<r.lowerBound]), String(rest[rest.index(after: r.lowerBound)...]))
            }
        }
        return nil
    }
}
