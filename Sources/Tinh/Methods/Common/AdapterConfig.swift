/// The adapter settings of a run: which method, which modules, what rank and scale. Saved in
/// checkpoints and compared across ranks; `PEFTAdapterConfig` turns it into adapter_config.json.
public struct AdapterConfig: Codable, Equatable, Sendable {
    public var method: String
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
    /// VeRA: seed of the shared projections (PEFT's projection_prng_key); nil = 0. Optional, so
    /// configs saved before VeRA existed still decode and other methods' JSON is unchanged.
    public var veraSeed: UInt64?
    /// VeRA: initial value of every d entry (PEFT's d_initial); nil = 0.1.
    public var veraDInit: Float?

    /// LoRA-FA: project B's gradient by (r/α)²·(A·Aᵀ)⁻¹ as PEFT's LoRA-FA optimizer does.
    public var loraFAProjection: Bool

    /// Delta-LoRA: W moves by λ·s·Δ(B·A) after each optimizer step from `deltaStart` (0-based) on.
    public var deltaLambda: Float
    public var deltaStart: Int

    /// How the frozen base's projections are held (`BasePrecision`); nil = f32, or nf4 for
    /// `--method qlora`. Optional, so older configs decode and other methods' JSON is unchanged.
    /// The adapter is trained against this base, so a checkpoint records it and resume refuses another.
    public var basePrecision: BasePrecision?
    /// AdaLoRA's budget schedule and importance settings (nil for other methods; defaults then).
    public var adaLoRA: AdaLoRASettings?
    /// How A and B start: nil = the method's default (LoRA: Kaiming A, zero B); "pissa" = the top-r
    /// singular triplets of W, with W replaced by its residual (`PiSSA`).
    public var initialization: String?

    /// Delta-LoRA's defaults: the paper's setting for GPT-2 on E2E (update ratio 2, start steps 500).
    public static let defaultDeltaLambda: Float = 2
    public static let defaultDeltaStart = 500

    public init(method: String = "lora", rank: Int = 8, alpha: Float = 16, rsLoRA: Bool = false,
                targets: [String] = ["q", "v"], layers: [Int]? = nil, seed: UInt64 = 0,
                veraSeed: UInt64? = nil, veraDInit: Float? = nil, loraFAProjection: Bool = false,
                deltaLambda: Float = AdapterConfig.defaultDeltaLambda, deltaStart: Int = AdapterConfig.defaultDeltaStart,
                basePrecision: BasePrecision? = nil, adaLoRA: AdaLoRASettings? = nil, initialization: String? = nil) {
        self.method = method
        self.rank = rank
        self.alpha = alpha
        self.rsLoRA = rsLoRA
        self.targets = targets
        self.layers = layers
        self.seed = seed
        self.veraSeed = veraSeed
        self.veraDInit = veraDInit
        self.loraFAProjection = loraFAProjection
        self.deltaLambda = deltaLambda
        self.deltaStart = deltaStart
        self.basePrecision = basePrecision
        self.adaLoRA = adaLoRA
        self.initialization = initialization
    }

    enum CodingKeys: String, CodingKey {
        case method, rank, alpha, rsLoRA, targets, layers, seed, veraSeed, veraDInit, loraFAProjection, deltaLambda, deltaStart, basePrecision
        case adaLoRA, initialization
    }

    /// Fields added after the first release are optional in older files.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(method: try c.decode(String.self, forKey: .method), rank: try c.decode(Int.self, forKey: .rank),
                  alpha: try c.decode(Float.self, forKey: .alpha), rsLoRA: try c.decode(Bool.self, forKey: .rsLoRA),
                  targets: try c.decode([String].self, forKey: .targets), layers: try c.decodeIfPresent([Int].self, forKey: .layers),
                  seed: try c.decode(UInt64.self, forKey: .seed),
                  veraSeed: try c.decodeIfPresent(UInt64.self, forKey: .veraSeed),
                  veraDInit: try c.decodeIfPresent(Float.self, forKey: .veraDInit),
                  loraFAProjection: try c.decodeIfPresent(Bool.self, forKey: .loraFAProjection) ?? false,
                  deltaLambda: try c.decodeIfPresent(Float.self, forKey: .deltaLambda) ?? Self.defaultDeltaLambda,
                  deltaStart: try c.decodeIfPresent(Int.self, forKey: .deltaStart) ?? Self.defaultDeltaStart,
                  basePrecision: try c.decodeIfPresent(BasePrecision.self, forKey: .basePrecision),
                  adaLoRA: try c.decodeIfPresent(AdaLoRASettings.self, forKey: .adaLoRA),
                  initialization: try c.decodeIfPresent(String.self, forKey: .initialization))
    }

    /// `--method qlora`: LoRA on an NF4 base (QLoRA, Dettmers et al., 2023).
    public static let qloraMethod = "qlora"

    /// The base precision this run uses: the one given, else nf4 for qlora and f32 for the rest.
    public var resolvedBasePrecision: BasePrecision {
        basePrecision ?? (method == Self.qloraMethod ? .nf4 : .f32)
    }

    public var veraProjectionSeed: UInt64 { veraSeed ?? 0 }
    public var veraInitialD: Float { veraDInit ?? 0.1 }

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

    /// Checks the settings against the model they will be attached to.
    public func validate(for config: DecoderConfig) throws {
        if loraFAProjection, method != "lora-fa" {
            throw TinhError.invalidInput("--lora-fa-projection applies to --method lora-fa only (this run uses \(method))")
        }
        if method == Self.qloraMethod, resolvedBasePrecision != .nf4 {
            throw TinhError.invalidInput("--method qlora is LoRA on an nf4 base; for a \(resolvedBasePrecision) base use --method lora --base-precision \(resolvedBasePrecision)")
        }
        guard rank > 0 else { throw TinhError.invalidInput("--rank must be positive, got \(rank)") }
        guard alpha > 0, alpha.isFinite else { throw TinhError.invalidInput("--alpha must be positive, got \(alpha)") }
        guard deltaLambda.isFinite, deltaLambda >= 0 else { throw TinhError.invalidInput("--delta-lambda must be a finite number ≥ 0, got \(deltaLambda)") }
        guard deltaStart >= 0 else { throw TinhError.invalidInput("--delta-start must be ≥ 0, got \(deltaStart)") }
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
        if method != "vera", veraSeed != nil || veraDInit != nil {
            throw TinhError.invalidInput("--vera-seed and --vera-d-init apply to --method vera only")
        }
        if method != "adalora", adaLoRA != nil {
            throw TinhError.invalidInput("--target-r, --tinit, --tfinal, --delta-t, --ipt-beta1, --ipt-beta2 and --orth-reg-weight apply to --method adalora only")
        }
        if let a = adaLoRA { try a.validate(initR: rank) }
        if let i = initialization {
            guard i == "pissa" else { throw TinhError.invalidInput("--init '\(i)': the only choice is pissa (default: the method's own init)") }
            guard PiSSA.methods.contains(method) else {
                throw TinhError.invalidInput("--init pissa applies to --method \(PiSSA.methods.sorted().joined(separator: ", ")) (this run uses \(method))")
            }
        }
        if let d = veraDInit, !d.isFinite { throw TinhError.invalidInput("--vera-d-init must be finite, got \(d)") }
        if let layers {
            guard !layers.isEmpty else { throw TinhError.invalidInput("--layers selects no block") }
            if let bad = layers.first(where: { $0 >= config.numLayers }) {
                throw TinhError.invalidInput("--layers: block \(bad) does not exist; the model has blocks 0-\(config.numLayers - 1)")
            }
        }
    }
}

import Foundation
