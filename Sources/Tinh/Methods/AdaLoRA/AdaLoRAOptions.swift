/// AdaLoRA's own options: its budget schedule and importance settings (`AdaLoRASettings`), saved
/// under the config's "adaLoRA" key as always. Its rank is `--init-r` (or `--rank`).
public struct AdaLoRAOptions: MethodOptions, Equatable {
    public var settings: AdaLoRASettings

    public init(_ settings: AdaLoRASettings = AdaLoRASettings()) { self.settings = settings }

    public static var flags: [MethodFlag] {
        [MethodFlag("init-r", value: "R", help: "initial rank of every module (PEFT's init_r; default 12; same as --rank)"),
         MethodFlag("target-r", value: "R", help: "average rank per module at the end (budget target-r × modules; default 2/3 of the rank, rounded: 8 for PEFT's init_r 12)"),
         MethodFlag("tinit", value: "STEPS", help: "full-rank warm-up steps before pruning (default 0)"),
         MethodFlag("tfinal", value: "STEPS", help: "final steps with the mask fixed at the target budget (default 0: the budget then only nears it)"),
         MethodFlag("delta-t", value: "STEPS", help: "steps between budget allocations (PEFT's deltaT; default 1)"),
         MethodFlag("ipt-beta1", value: "B", help: "EMA factor of the sensitivity |θ·∇θ| (PEFT's beta1; default 0.85)"),
         MethodFlag("ipt-beta2", value: "B", help: "EMA factor of the uncertainty (PEFT's beta2; default 0.85)"),
         MethodFlag("orth-reg-weight", value: "W", help: "weight of the orthogonality regulariser (PEFT's orth_reg_weight; default 0.5)")]
    }
    public static var defaults: AdaLoRAOptions { AdaLoRAOptions() }

    /// The schedule spans the run's --steps (PEFT's total_step).
    public init(flags: MethodFlagValues, rank: Int, steps: Int) throws {
        let d = AdaLoRASettings()
        self.init(AdaLoRASettings(targetR: try flags.int("target-r") ?? AdaLoRASettings.defaultTargetR(initR: rank),
                                  tinit: try flags.int("tinit") ?? d.tinit, tfinal: try flags.int("tfinal") ?? d.tfinal,
                                  deltaT: try flags.int("delta-t") ?? d.deltaT, beta1: try flags.float("ipt-beta1") ?? d.beta1,
                                  beta2: try flags.float("ipt-beta2") ?? d.beta2, orthRegWeight: try flags.float("orth-reg-weight") ?? d.orthRegWeight,
                                  totalStep: steps))
    }

    /// AdaLoRA's rank is its init_r: `--init-r`, or `--rank`, or PEFT's 12; both given must agree.
    static func resolvedRank(given rank: Int?, flags: MethodFlagValues) throws -> Int {
        let initR = try flags.int("init-r")
        if let initR, let rank, initR != rank {
            throw TinhError.invalidInput("--init-r \(initR) and --rank \(rank) disagree; AdaLoRA's rank is its init_r (give one of them)")
        }
        return initR ?? rank ?? 12
    }

    public func validate(rank: Int) throws { try settings.validate(initR: rank) }

    public func validate(steps: Int) throws {
        guard settings.totalStep == steps else {
            throw TinhError.invalidInput("AdaLoRA's schedule was set for \(settings.totalStep.map(String.init) ?? "no") total steps, this run has --steps \(steps)")
        }
    }

    enum CodingKeys: String, CodingKey { case adaLoRA }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decodeIfPresent(AdaLoRASettings.self, forKey: .adaLoRA) ?? AdaLoRASettings())
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(settings, forKey: .adaLoRA)
    }

    public var fields: [(name: String, value: String)] { [("adalora settings", "\(settings)")] }
}
