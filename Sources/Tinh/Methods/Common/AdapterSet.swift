/// A method attached to one model: its adapters on the targeted Linears, their parameters in one
/// flat buffer, initialised from the config's seed (so every rank starts identical).
public final class AdapterSet {
    public let config: AdapterConfig
    public let parameters: AdapterParameters
    /// The method as a whole (`config.method`'s type), which owns the adapters' shared state.
    public let method: any FineTuningMethod
    /// Adapted module names in model order, and their adapters (none for `full`).
    public let modules: [(name: String, adapter: LinearAdapter)]
    private let linears: [Linear]
    /// Which block each stretch of the flat buffer belongs to, in buffer order (every slot an
    /// adapter reserves is its block's): the all-reduce buckets are cut along these.
    public let layerSegments: [(layer: Int, range: Range<Int>)]

    /// Attaches `config.method` to every targeted Linear of `model`; replaces any earlier adapter.
    public init(model: DecoderModel, config: AdapterConfig) throws {
        try config.validate(for: model.config)
        let method = try config.method.type.init(config: config)
        let parameters = AdapterParameters()
        let attached = try method.attach(to: model, parameters: parameters)
        var rng = SeededGenerator(seed: config.seed)
        method.initialize(rng: &rng)
        for (_, adapter, linear) in attached.modules { linear.adapter = adapter }
        self.config = config
        self.parameters = parameters
        self.method = method
        modules = attached.modules.map { ($0.name, $0.adapter) }
        linears = attached.modules.map(\.linear)
        layerSegments = attached.layerSegments
    }

    /// Whether the whole model trains (`full`: no adapter modules, the export is the model).
    public var isFullFineTuning: Bool { config.method.type.trainsWholeModel }

    /// Every frozen tensor of the method under its export name.
    public func frozenTensors() -> [String: Tensor] { method.frozenTensors() }

    /// The method's checkpoint state under export names.
    public func extraState() -> [String: Tensor] { method.checkpointState() }

    public func restoreExtraState(_ tensors: [String: Tensor]) throws { try method.restoreCheckpointState(tensors) }

    /// Removes the adapters from the model (the base computes alone again).
    public func detach() {
        for linear in linears { linear.adapter = nil }
    }

    /// Optimizer groups: `lrScale` per group name (LoRA+ sets "lora_B" to its ratio).
    public func optimizerGroups(lrScale: [String: Float] = [:], weightDecay: Float = 0) -> [ParameterGroup] {
        parameters.groups().map { ParameterGroup(name: $0.group, range: $0.range, lrScale: lrScale[$0.group] ?? 1, weightDecay: weightDecay) }
    }
}
