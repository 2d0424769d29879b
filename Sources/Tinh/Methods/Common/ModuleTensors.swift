/// Per-module tensors (LoRA-FA's A, Delta-LoRA's W) under whole export names: each module's key
/// prefixed with its PEFT module name, "base_model.model.<module>.<key>", and back.
enum ModuleTensors {
    static func prefixed(_ modules: [(name: String, tensors: [String: Tensor])]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, tensors) in modules {
            for (key, tensor) in tensors { out[PEFTNames.module(name) + "." + key] = tensor }
        }
        return out
    }

    /// The tensors of `module` in `tensors`, by their key within the module.
    static func of(_ module: String, in tensors: [String: Tensor]) -> [String: Tensor] {
        let prefix = PEFTNames.module(module) + "."
        var mine: [String: Tensor] = [:]
        for (key, tensor) in tensors where key.hasPrefix(prefix) { mine[String(key.dropFirst(prefix.count))] = tensor }
        return mine
    }
}
