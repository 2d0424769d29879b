/// A trainable term on one frozen Linear. Each method (LoRA, LoRA-FA, VeRA, ...) is one type in
/// one file; `AdapterMethods` maps `--method` to it. Its parameters live in slots of the shared
/// `AdapterParameters` buffer, which it reserves on creation and fills in `initialize`.
public protocol Adapter: LinearAdapter {
    /// Reserves this adapter's slots in `parameters` (not yet sealed) for `linear`.
    init(linear: Linear, config: AdapterConfig, parameters: AdapterParameters) throws

    /// Writes initial values into its slots (after the buffer is sealed), drawing from `rng`.
    func initialize(rng: inout SeededGenerator)

    /// Runs on every rank after the all-reduce, averaging and clipping, right before the optimizer
    /// step; may rewrite this adapter's gradients (LoRA-FA's projection).
    func beforeOptimizerStep()

    /// Whether the method adds a regulariser to the loss (AdaLoRA's orthogonality term).
    static var hasRegularizer: Bool { get }

    /// Adds the gradient of the method's regulariser (its share of it, for this module) to the
    /// adapter's gradients, which hold the all-reduced mean gradient of the loss; returns the
    /// regulariser's value. Runs on every rank before clipping, so all ranks add the same.
    func addRegularizerGradient() -> Double

    /// Runs on every rank after each optimizer step (`step` is 0-based). Delta-LoRA moves W here.
    func afterOptimizerStep(step: Int)

    /// Tensors of the adapter that do not train (LoRA-FA's A), by name within the module
    /// ("lora_A.weight"). They are exported with the trained ones and written into checkpoints,
    /// where resume checks that the ones regenerated from the seed match bit for bit.
    func frozenTensors() -> [String: Tensor]

    /// State beyond the flat parameters that a checkpoint must keep for a bit-exact resume
    /// (e.g. Delta-LoRA's change to W), by name; and its restore.
    func extraState() -> [String: Tensor]
    func restoreExtraState(_ tensors: [String: Tensor]) throws

    /// Frozen tensors the PEFT export writes besides the slots, by PEFT key (VeRA's shared
    /// projections). Several adapters may return the same key; it then names the same tensor.
    func exportTensors() -> [String: Tensor]

    /// The trainable-parameter count the method's formula gives for these adapted (in, out)
    /// shapes, shown at the start of a run next to the actual count; nil when no formula is stated.
    static func expectedTrainableCount(config: AdapterConfig, shapes: [(in: Int, out: Int)]) -> Int?
}

extension Adapter {
    public func beforeOptimizerStep() {}
    public static var hasRegularizer: Bool { false }
    public func addRegularizerGradient() -> Double { 0 }
    public func afterOptimizerStep(step: Int) {}
    public func frozenTensors() -> [String: Tensor] { [:] }
    public static func expectedTrainableCount(config: AdapterConfig, shapes: [(in: Int, out: Int)]) -> Int? { nil }
    public func extraState() -> [String: Tensor] { [:] }
    public func restoreExtraState(_ tensors: [String: Tensor]) throws {}
    public func exportTensors() -> [String: Tensor] { [:] }
}

/// The method names `--method` accepts and the type behind each.
public enum AdapterMethods {
    public static let all: [String: Adapter.Type] = [
        "lora": LoRA.self,
        "vera": VeRA.self,
        "lora-plus": LoRA.self,
        "lora-fa": LoRAFA.self,
        "delta-lora": DeltaLoRA.self,
        "dora": DoRA.self,
        AdapterConfig.qloraMethod: LoRA.self,  // LoRA itself; the base is loaded in nf4 (`AdapterConfig.resolvedBasePrecision`)
        "adalora": AdaLoRA.self,
    ]

    /// Every method, LoRA first, then by name.
    public static var names: [String] { ["lora"] + all.keys.filter { $0 != "lora" }.sorted() }

    /// Methods whose export is an ordinary PEFT LoRA adapter (LoRA+ only changes the optimizer;
    /// LoRA-FA's frozen A is exported with B).
    /// Delta-LoRA's adapter is a plain LoRA too (its moved base weights go to a merged model);
    /// DoRA's is a PEFT LoRA with `use_dora` and a magnitude vector per module; QLoRA's a plain
    /// LoRA (plus `tinh_base_quantization.json` saying which base it was trained on).
    public static let exportedAsPEFTLoRA: Set<String> = ["lora", "lora-plus", "lora-fa", "delta-lora", "dora", AdapterConfig.qloraMethod]

    public static func type(named name: String) throws -> Adapter.Type {
        guard let t = all[name] else {
            throw TinhError.invalidInput("unknown --method '\(name)'; available: \((all.keys + [FullFineTuning.method]).sorted().joined(separator: ", "))")
        }
        return t
    }
}
