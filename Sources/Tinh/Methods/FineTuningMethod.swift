import Foundation

/// One fine-tuning method as a whole: it makes the per-module adapters (`LinearAdapter`, the
/// forward/backward unit on one frozen Linear), owns what they share (VeRA's projections,
/// AdaLoRA's budget), and runs the steps that concern all of them at once. The trainer calls, each
/// step, on every rank:
///
///     backward → all-reduce → mean → addRegularizerGradient → clip
///              → beforeOptimizerStep → optimizer → afterOptimizerStep → agreement
///
/// A method is created per run from its `AdapterConfig` (whose `options` are its own typed
/// settings, `optionsType`), attached once, and lives as long as its `AdapterSet`.
/// Defaults (below) are a method that only trains its slots.
public protocol FineTuningMethod: AnyObject {
    /// Its registry ID.
    static var id: MethodID { get }
    /// What it trains, for `--method`'s help.
    static var help: String { get }
    /// Its own settings and the flags that set them.
    static var optionsType: any MethodOptions.Type { get }
    /// The base precision a run gets unless `--base-precision` says otherwise.
    static var defaultBasePrecision: BasePrecision { get }
    /// B's learning-rate ratio to A's when `--loraplus-ratio` is not given.
    static var defaultLoRAPlusRatio: Float { get }
    /// The rank a run gets from `--rank` (nil: not given) and the method's own flags.
    static func resolvedRank(given: Int?, flags: MethodFlagValues) throws -> Int

    /// Checks settings of `config` that only this method restricts (`AdapterConfig.validate` calls it).
    static func validate(_ config: AdapterConfig) throws

    /// Keeps what the method needs of `config` (validated).
    init(config: AdapterConfig) throws

    /// Reserves the method's slots in `parameters`, makes its module adapters and seals the buffer.
    func attach(to model: DecoderModel, parameters: AdapterParameters) throws -> MethodAttachment
    /// Writes the initial values (after `attach`), drawing from `rng` in module order.
    func initialize(rng: inout SeededGenerator)

    /// Whether the method adds a regulariser to the loss (AdaLoRA's orthogonality term).
    var hasRegularizer: Bool { get }
    /// Adds the regulariser's gradient to the all-reduced mean gradient; returns its value.
    func addRegularizerGradient() -> Double
    /// After clipping, right before the optimizer: may rewrite gradients (LoRA-FA's projection).
    func beforeOptimizerStep()
    /// After each optimizer step (`step` 0-based): Delta-LoRA moves W, AdaLoRA masks.
    func afterOptimizerStep(step: Int)

    /// Tensors that do not train but belong to the adapter (LoRA-FA's A, PiSSA's A₀ and B₀), by
    /// export name: exported with the slots, and checked bit for bit when a checkpoint resumes.
    func frozenTensors() -> [String: Tensor]
    /// State beyond the slots that a checkpoint must keep for a bit-exact resume, by export name
    /// (Delta-LoRA's moved W, AdaLoRA's masks and importance averages), and its restore.
    func checkpointState() -> [String: Tensor]
    func restoreCheckpointState(_ tensors: [String: Tensor]) throws
    /// State each rank updates without communication, which the ranks compare after `step`
    /// (0-based; `checkpoint`: a checkpoint is being written): what it is, for the error, and its
    /// fingerprint. Nil: nothing to compare this time.
    func agreement(afterStep step: Int, checkpoint: Bool) -> (what: String, fingerprint: String)?
    /// Lines the run prints after `step` (AdaLoRA's final budget).
    func stepNotes(afterStep step: Int, ranks: Int) -> [String]

    /// The trainable count the method's formula gives for what was attached (nil: no formula).
    func expectedTrainableCount() -> Int?
    /// The start-of-run lines about the method's own settings.
    func summaryLines(steps: Int) -> [String]
    /// Whether training changes the base weights (then a merged model is exported too).
    static var movesBaseWeights: Bool { get }
    /// Whether every base weight trains (`full`): nothing of the base can be shared between ranks,
    /// and the export is the model, not an adapter.
    static var trainsWholeModel: Bool { get }
    /// Extra frozen tensors the PEFT export writes besides the slots (VeRA's shared projections).
    func exportTensors() -> [String: Tensor]
    /// Why this method's result cannot be written as a plain LoRA (llama.cpp's GGUF adapter), or
    /// nil when every module is a `LowRankAdapter`.
    static var lowRankRefusal: String? { get }

    /// PEFT's form of an adapter of this method: the tensors to write and adapter_config.json.
    /// `tensors` are the slots and frozen tensors by export name; `state` the checkpoint state.
    static func peftFiles(config: AdapterConfig, tensors: [String: Tensor], state: [String: Tensor],
                          baseModelName: String?) throws -> (tensors: [String: Tensor], config: Data)
    /// What an export of `config` holds, for `tinh export`'s line ("VeRA r=256 seed=0").
    static func exportDescription(_ config: AdapterConfig) -> String
    /// Exports a verified checkpoint of this method in PEFT's format without a model, when it can.
    static func exportCheckpoint(_ checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws

    /// The PEFT `peft_type`s this method reads ("LORA"), and the import of such a directory.
    static var peftTypes: [String] { get }
    static func loadPEFT(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet

    /// The settings `tinh compare-methods` gives this method for a fair comparison against the others.
    static func comparisonConfig(base: TrainConfig) -> TrainConfig
    /// Other entries the comparison knows for this method ("pissa": LoRA with the PiSSA init).
    static var comparisonVariants: [String: (TrainConfig) -> TrainConfig] { get }
}


/// What attaching a method made: its adapters on their Linears, and which block each stretch of
/// the flat buffer belongs to (the all-reduce buckets are cut along these).
public struct MethodAttachment {
    public var modules: [(name: String, adapter: LinearAdapter, linear: Linear)] = []
    public var layerSegments: [(layer: Int, range: Range<Int>)] = []
    public init() {}
}

extension FineTuningMethod {
    public static var optionsType: any MethodOptions.Type { NoMethodOptions.self }
    public static func validate(_ config: AdapterConfig) throws {}
    public static var defaultBasePrecision: BasePrecision { .f32 }
    public static var defaultLoRAPlusRatio: Float { 1 }
    public static func resolvedRank(given: Int?, flags: MethodFlagValues) throws -> Int { given ?? 8 }
    public var hasRegularizer: Bool { false }
    public func addRegularizerGradient() -> Double { 0 }
    public func beforeOptimizerStep() {}
    public func afterOptimizerStep(step: Int) {}
    public func frozenTensors() -> [String: Tensor] { [:] }
    public func checkpointState() -> [String: Tensor] { [:] }
    public func restoreCheckpointState(_ tensors: [String: Tensor]) throws {}
    public func agreement(afterStep step: Int, checkpoint: Bool) -> (what: String, fingerprint: String)? { nil }
    public func stepNotes(afterStep step: Int, ranks: Int) -> [String] { [] }
    public func expectedTrainableCount() -> Int? { nil }
    public func summaryLines(steps: Int) -> [String] { [] }
    public static var movesBaseWeights: Bool { false }
    /// Most methods export a PEFT LoRA.
    public static func exportDescription(_ config: AdapterConfig) -> String { "LoRA r=\(config.rank) alpha=\(config.alpha)" }
    public static var trainsWholeModel: Bool { false }
    public func exportTensors() -> [String: Tensor] { [:] }
    public static var lowRankRefusal: String? { nil }
    public static var peftTypes: [String] { [] }
    public static func comparisonConfig(base: TrainConfig) -> TrainConfig { base }
    public static var comparisonVariants: [String: (TrainConfig) -> TrainConfig] { [:] }

    public static func loadPEFT(configPath: String, weightsPath: String, into model: DecoderModel) throws -> AdapterSet {
        throw TinhError.unsupported("loading a PEFT adapter as --method \(id.name)")
    }

    /// Most methods' checkpoints export from their tensors alone.
    public static func exportCheckpoint(_ checkpoint: VerifiedCheckpoint, baseModelName: String?, to directory: URL) throws {
        try PEFTExport.writeTensors(of: checkpoint, baseModelName: baseModelName, to: directory)
    }

    /// Attaches one module adapter, made by `make`, to every Linear the config targets.
    public static func attachModules(to model: DecoderModel, config: AdapterConfig, parameters: AdapterParameters,
                                     make: (Linear) throws -> LinearAdapter) throws -> MethodAttachment {
        let suffixes = Set(config.targets.compactMap { AdapterConfig.moduleNames[$0] })
        let layers = config.layers.map(Set.init)
        var out = MethodAttachment()
        for block in model.blocks where layers?.contains(block.index) ?? true {
            for linear in block.linears where suffixes.contains(where: { linear.name.hasSuffix("." + $0) }) {
                let first = parameters.slots.count
                out.modules.append((linear.name, try make(linear), linear))
                for slot in parameters.slots[first...] { out.layerSegments.append((block.index, slot.range)) }
            }
        }
        parameters.seal()
        return out
    }
}
