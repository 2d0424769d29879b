/// The adapters of one model: attached to the targeted Linears, their parameters in one flat
/// buffer, initialised from the config's seed (so every rank starts identical).
public final class AdapterSet {
    public let config: AdapterConfig
    public let parameters: AdapterParameters
    /// Adapted module names in model order, and their adapters.
    public let modules: [(name: String, adapter: Adapter)]
    private let linears: [Linear]
    /// The method's type, for its static facts (the expected trainable count); nil for `full`.
    public let method: Adapter.Type?
    /// `--method full`'s trainable count (every weight), nil for adapters.
    private let fullCount: Int?
    /// Which block each stretch of the flat buffer belongs to, in buffer order (every slot an
    /// adapter reserves is its block's): the all-reduce buckets are cut along these.
    public let layerSegments: [(layer: Int, range: Range<Int>)]

    /// Attaches `config.method` to every targeted Linear of `model`; replaces any earlier adapter.
    public init(model: DecoderModel, config: AdapterConfig) throws {
        try config.validate(for: model.config)
        if config.method == FullFineTuning.method {
            guard config.layers == nil else { throw TinhError.invalidInput("--layers selects adapted blocks; --method full trains every weight") }
            parameters = AdapterParameters()
            self.config = config
            modules = []
            linears = []
            method = nil
            layerSegments = FullFineTuning.attach(to: model, parameters: parameters)
            fullCount = FullFineTuning.expectedCount(model)
            return
        }
        let type = try AdapterMethods.type(named: config.method)
        let parameters = AdapterParameters()
        let suffixes = Set(config.targets.compactMap { AdapterConfig.moduleNames[$0] })
        let layers = config.layers.map(Set.init)
        var modules: [(String, Adapter)] = []
        var linears: [Linear] = []
        var segments: [(layer: Int, range: Range<Int>)] = []
        for block in model.blocks where layers?.contains(block.index) ?? true {
            for linear in block.linears where suffixes.contains(where: { linear.name.hasSuffix("." + $0) }) {
                let first = parameters.slots.count
                modules.append((linear.name, try type.init(linear: linear, config: config, parameters: parameters)))
                linears.append(linear)
                for slot in parameters.slots[first...] { segments.append((block.index, slot.range)) }
            }
        }
        parameters.seal()
        var rng = SeededGenerator(seed: config.seed)
        for (_, adapter) in modules { adapter.initialize(rng: &rng) }
        for (linear, (_, adapter)) in zip(linears, modules) { linear.adapter = adapter }
        self.config = config
        self.parameters = parameters
        self.modules = modules
        self.linears = linears
        self.method = type
        layerSegments = segments
        fullCount = nil
    }

    /// Whether this is `--method full` (the model's own weights train; no adapter modules).
    public var isFullFineTuning: Bool { config.method == FullFineTuning.method }

    /// The method's formula for the trainable count on these modules (nil: none stated).
    public var expectedTrainableCount: Int? {
        fullCount ?? method?.expectedTrainableCount(config: config, shapes: linears.map { (in: $0.inFeatures, out: $0.outFeatures) })
    }

    /// Before each optimizer step, on every rank, after the gradients are final.
    public func beforeOptimizerStep() {
        for (_, adapter) in modules { adapter.beforeOptimizerStep() }
    }

    /// Adds every module's regulariser gradient (see `Adapter.addRegularizerGradient`); returns
    /// the regulariser's total value.
    @discardableResult
    public func addRegularizerGradient() -> Double {
        modules.reduce(0) { $0 + $1.adapter.addRegularizerGradient() }
    }

    /// Every adapter's frozen tensors under their export names.
    public func frozenTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, adapter) in modules {
            for (key, tensor) in adapter.frozenTensors() { out[PEFTNames.module(name) + "." + key] = tensor }
        }
        return out
    }

    /// After each optimizer step, on every rank, in module order.
    public func afterOptimizerStep(step: Int) {
        for (_, adapter) in modules { adapter.afterOptimizerStep(step: step) }
    }

    /// Every adapter's extra checkpoint state, names prefixed by module.
    public func extraState() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, adapter) in modules {
            for (key, tensor) in adapter.extraState() { out[PEFTNames.module(name) + "." + key] = tensor }
        }
        return out
    }

    public func restoreExtraState(_ tensors: [String: Tensor]) throws {
        for (name, adapter) in modules {
            let prefix = PEFTNames.module(name) + "."
            var mine: [String: Tensor] = [:]
            for (key, tensor) in tensors where key.hasPrefix(prefix) { mine[String(key.dropFirst(prefix.count))] = tensor }
            try adapter.restoreExtraState(mine)
        }
    }

    /// Removes the adapters from the model (the base computes alone again).
    public func detach() {
        for linear in linears { linear.adapter = nil }
    }

    /// Optimizer groups: `lrScale` per group name (LoRA+ sets "lora_B" to its ratio).
    public func optimizerGroups(lrScale: [String: Float] = [:], weightDecay: Float = 0) -> [ParameterGroup] {
        parameters.groups().map { ParameterGroup(name: $0.group, range: $0.range, lrScale: lrScale[$0.group] ?? 1, weightDecay: weightDecay) }
    }
}
