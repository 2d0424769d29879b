/// LoRA+ (Hayou, Ghosh & Yu, 2024): LoRA with B's learning rate `ratio` × A's. It is not an
/// adapter of its own but a choice of optimizer groups: `--method lora-plus` is LoRA with the
/// ratio defaulting to 16 (the paper's recommendation); `--loraplus-ratio` sets it for `lora` too.
public enum LoRAPlus {
    public static let recommendedRatio: Float = 16

    /// Whether a ratio changes anything: it sets B's rate relative to A's, so A must train too
    /// (with LoRA-FA only B trains, and the ratio is a no-op).
    public static func applies(to parameters: AdapterParameters) -> Bool {
        let groups = Set(parameters.slots.map(\.group))
        return groups.contains("lora_A") && groups.contains("lora_B")
    }

    /// The optimizer groups of `adapters`: "lora_B" at `ratio` × the base rate when LoRA+ applies.
    public static func groups(_ adapters: AdapterSet, ratio: Float, weightDecay: Float) -> [ParameterGroup] {
        let scale: [String: Float] = applies(to: adapters.parameters) ? ["lora_B": ratio] : [:]
        return adapters.optimizerGroups(lrScale: scale, weightDecay: weightDecay)
    }

    /// One line for the start of a run, when the ratio is not 1.
    public static func note(ratio: Float, method: MethodID, parameters: AdapterParameters) -> String? {
        guard ratio != 1 else { return nil }
        return applies(to: parameters)
            ? "LoRA+: B learns at \(ratio) × A's learning rate"
            : "LoRA+ ratio \(ratio) has no effect with \(method.name): only B trains, so there is no A rate to scale against"
    }
}
