import Tinh

/// `--targets` as given ("q,v,down"), or the model's default (`AdapterConfig.defaultTargets`: q,v,
/// or qkv on fused projections), read from the model's header without loading its weights.
func resolvedTargets(_ option: String?, model: String) throws -> [String] {
    if let option { return option.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    return AdapterConfig.defaultTargets(for: try ModelSource.config(model).spec.projections)
}
