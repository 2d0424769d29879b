/// The adapter settings of a run: which method, which modules, what rank and scale, and the
/// method's own options. Saved in checkpoints and compared across ranks; the method's PEFT mapping
/// turns it into adapter_config.json.
public struct AdapterConfig: Codable, Equatable, Sendable {
    public var method: MethodID
    public var rank: Int
    public var alpha: Float
    /// Scale α/√r instead of α/r.
    public var rsLoRA: Bool
    /// Short names: q, k, v, o, gate, up, down.
    public var targets: [String]
    /// Block indices to adapt; nil = all.
    public var layers: [Int]?
    /// Seed of the adapter's initial values.
    public var seed: UInt64
    /// How the frozen base's projections are held (`BasePrecision`); nil = the method's default
    /// (nf4 for qlora, else f32). Optional, so older configs decode and other methods' JSON is unchanged.
    /// The adapter is trained against this base, so a checkpoint records it and resume refuses another.
    public var basePrecision: BasePrecision?
    /// The method's own settings, of its `optionsType` (`LoRAFAOptions`, `VeRAOptions`, ...).
    public var options: any MethodOptions

    /// `options` nil: the method's defaults.
    public init(method: MethodID = .lora, rank: Int = 8, alpha: Float = 16, rsLoRA: Bool = false,
                targets: [String] = ["q", "v"], layers: [Int]? = nil, seed: UInt64 = 0,
                basePrecision: BasePrecision? = nil, options: (any MethodOptions)? = nil) {
        self.method = method
        self.rank = rank
        self.alpha = alpha
        self.rsLoRA = rsLoRA
        self.targets = targets
        self.layers = layers
        self.seed = seed
        self.basePrecision = basePrecision
        self.options = options ?? method.type.optionsType.defaults
    }

    /// The options as the method's own type (its defaults if they are another method's; `validate` refuses that).
    public func options<T: MethodOptions>(_ type: T.Type) -> T { options as? T ?? T.defaults }

    enum CodingKeys: String, CodingKey {
        case method, rank, alpha, rsLoRA, targets, layers, seed, basePrecision
    }

    /// The method's options share the top level with the common fields (as before they were typed),
    /// so configs saved by every earlier version decode.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let method = try c.decode(MethodID.self, forKey: .method)
        self.init(method: method, rank: try c.decode(Int.self, forKey: .rank),
                  alpha: try c.decode(Float.self, forKey: .alpha), rsLoRA: try c.decode(Bool.self, forKey: .rsLoRA),
                  targets: try c.decode([String].self, forKey: .targets), layers: try c.decodeIfPresent([Int].self, forKey: .layers),
                  seed: try c.decode(UInt64.self, forKey: .seed),
                  basePrecision: try c.decodeIfPresent(BasePrecision.self, forKey: .basePrecision),
                  options: try method.type.optionsType.init(from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(rank, forKey: .rank)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(rsLoRA, forKey: .rsLoRA)
        try c.encode(targets, forKey: .targets)
        try c.encodeIfPresent(layers, forKey: .layers)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(basePrecision, forKey: .basePrecision)
        try options.encode(to: encoder)
    }

    public static func == (a: AdapterConfig, b: AdapterConfig) -> Bool {
        a.method == b.method && a.rank == b.rank && a.alpha.bitPattern == b.alpha.bitPattern && a.rsLoRA == b.rsLoRA
            && a.targets == b.targets && a.layers == b.layers && a.seed == b.seed && a.basePrecision == b.basePrecision
            && type(of: a.options) == type(of: b.options) && a.options.fields.elementsEqual(b.options.fields) { $0 == $1 }
    }

    /// The base precision this run uses: the one given, else the method's default.
    public var resolvedBasePrecision: BasePrecision {
        basePrecision ?? method.type.defaultBasePrecision
    }

    /// s in y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ.
    public var scale: Float { rsLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }

    /// Module name suffix for each short target name (Hugging Face naming; `qkv` and `gate_up` are
    /// Phi-3's fused projections, under PEFT's names for them).
    public static let moduleNames: [String: String] = [
        "q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
        "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
        "qkv": "self_attn.qkv_proj", "gate_up": "mlp.gate_up_proj",
    ]
    /// Every target of a model with separate projections, in order.
    public static let targetOrder = ["q", "k", "v", "o", "gate", "up", "down"]
    /// Every target of a model with fused ones (Phi-3).
    public static let fusedTargetOrder = ["qkv", "o", "gate_up", "down"]

    /// What `--targets` defaults to: q and v (PEFT's default for Llama-like models), or Phi-3's
    /// fused qkv_proj (PEFT's default there), which holds them.
    public static func defaultTargets(for projections: ArchitectureSpec.Projections) -> [String] {
        projections == .fused ? ["qkv"] : ["q", "v"]
    }

    /// The targets a model with `projections` has, in order.
    public static func targets(for projections: ArchitectureSpec.Projections) -> [String] {
        projections == .fused ? fusedTargetOrder : targetOrder
    }

    /// PEFT's `target_modules` entries ("q_proj", ...).
    public var peftTargetModules: [String] {
        targets.compactMap { Self.moduleNames[$0].map { String($0.split(separator: ".").last!) } }
    }

    /// Parses "0-9,12" into block indices.
    public static func parseLayers(_ text: String) throws -> [Int] {
        var out: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1: if let a = bounds[0], a >= 0 { out.append(a); continue }
            case 2: if let a = bounds[0], let b = bounds[1], a >= 0, a <= b { out += Array(a...b); continue }
            default: break
            }
            throw TinhError.invalidInput("--layers: cannot read '\(part)'; use a list and ranges such as 0-3,8")
        }
        return Array(Set(out)).sorted()
    }

    /// Checks the common settings against the model they will be attached to; the method checks
    /// its own when it is created.
    public func validate(for config: DecoderConfig) throws {
        guard Swift.type(of: options) == method.type.optionsType else {
            throw TinhError.invalidInput("the options given (\(Swift.type(of: options))) are not --method \(method.name)'s")
        }
        guard rank > 0 else { throw TinhError.invalidInput("--rank must be positive, got \(rank)") }
        guard alpha > 0, alpha.isFinite else { throw TinhError.invalidInput("--alpha must be positive, got \(alpha)") }
        try options.validate(rank: rank)
        try method.type.validate(self)
        let available = Self.targets(for: config.spec.projections)
        guard !targets.isEmpty else { throw TinhError.invalidInput("--targets is empty; choose from \(available.joined(separator: ","))") }
        for t in targets where Self.moduleNames[t] == nil {
            throw TinhError.invalidInput("unknown target '\(t)'; choose from \(available.joined(separator: ","))")
        }
        // A fused projection is one module: PEFT adapts qkv_proj as a whole, never q alone.
        let fused: [String: String] = ["q": "qkv", "k": "qkv", "v": "qkv", "gate": "gate_up", "up": "gate_up"]
        for t in targets where !available.contains(t) {
            if config.spec.projections == .fused, let whole = fused[t] {
                throw TinhError.invalidInput("--targets \(t): \(config.spec.family.rawValue) fuses q, k, v into qkv_proj and gate, up into gate_up_proj; "
                    + "target the fused module (--targets \(whole), PEFT's \(Self.moduleNames[whole]!.split(separator: ".").last!)) — an adapter on it is not one on \(t) alone")
            }
            throw TinhError.invalidInput("--targets \(t): this model has no \(Self.moduleNames[t]!); choose from \(available.joined(separator: ","))")
        }
        if let layers {
            guard !layers.isEmpty else { throw TinhError.invalidInput("--layers selects no block") }
            if let bad = layers.first(where: { $0 >= config.numLayers }) {
                throw TinhError.invalidInput("--layers: block \(bad) does not exist; the model has blocks 0-\(config.numLayers - 1)")
            }
        }
    }
}
