/// A trainable term on one frozen Linear. Each method (LoRA, LoRA-FA, VeRA, ...) is one type in
/// one file; `AdapterMethods` maps `--method` to it. Its parameters live in slots of the shared
/// `AdapterParameters` buffer, which it reserves on creation and fills in `initialize`.
public protocol Adapter: LinearAdapter {
    /// Reserves this adapter's slots in `parameters` (not yet sealed) for `linear`.
    init(linear: Linear, config: AdapterConfig, parameters: AdapterParameters) throws

    /// Writes initial values into its slots (after the buffer is sealed), drawing from `rng`.
    func initialize(rng: inout SeededGenerator)

    /// Runs on every rank after each optimizer step (`step` is 0-based). Delta-LoRA moves W here.
    func afterOptimizerStep(step: Int)

    /// State beyond the flat parameters that a checkpoint must keep for a bit-exact resume
    /// (e.g. Delta-LoRA's change to W), by name; and its restore.
    func extraState() -> [String: Tensor]
    func restoreExtraState(_ tensors: [String: Tensor]) throws
}

extension Adapter {
    public func afterOptimizerStep(step: Int) {}
    public func extraState() -> [String: Tensor] { [:] }
    public func restoreExtraState(_ tensors: [String: Tensor]) throws {}
}

/// The method names `--method` accepts and the type behind each.
public enum AdapterMethods {
    public static let all: [String: Adapter.Type] = [
        "lora": LoRA.self,
        "delta-lora": DeltaLoRA.self,
    ]

    public static func type(named name: String) throws -> Adapter.Type {
        guard let t = all[name] else {
            throw TinhError.invalidInput("unknown --method '\(name)'; available: \(all.keys.sorted().joined(separator: ", "))")
        }
        return t
    }
}
