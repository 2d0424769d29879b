/// AdaLoRA's settings beyond the rank (`AdapterConfig.rank` is init_r), named and defaulted as
/// PEFT's `AdaLoraConfig` has them. Steps are 0-based optimizer steps, as in PEFT's examples
/// (`update_and_allocate(global_step)` with global_step counting from 0).
public struct AdaLoRASettings: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Average rank per module after the schedule: the budget is targetR × modules.
    public var targetR: Int = 8
    /// Steps of full-rank warm-up before pruning starts.
    public var tinit: Int = 0
    /// Steps at the end with the final mask fixed. With 0 (PEFT's default) the budget only nears
    /// target_r: the final masking happens at step total − tfinal, which is then past the last step.
    public var tfinal: Int = 0
    /// Masking interval during the schedule.
    public var deltaT: Int = 1
    /// EMA factors of the sensitivity |θ·∇θ| and of its uncertainty.
    public var beta1: Float = 0.85
    public var beta2: Float = 0.85
    /// Weight of the orthogonality regulariser added to the mean loss.
    public var orthRegWeight: Float = 0.5
    /// Total optimizer steps (the run's --steps); the schedule needs it. nil: no rank allocation
    /// (an adapter loaded for inference).
    public var totalStep: Int?

    public init(targetR: Int = 8, tinit: Int = 0, tfinal: Int = 0, deltaT: Int = 1, beta1: Float = 0.85, beta2: Float = 0.85,
                orthRegWeight: Float = 0.5, totalStep: Int? = nil) {
        self.targetR = targetR
        self.tinit = tinit
        self.tfinal = tfinal
        self.deltaT = deltaT
        self.beta1 = beta1
        self.beta2 = beta2
        self.orthRegWeight = orthRegWeight
        self.totalStep = totalStep
    }

    /// The target rank when the user gives none: PEFT's default proportion target_r / init_r =
    /// 8 / 12, so init_r 12 keeps PEFT's 8 and a smaller --rank (say 4) gets a target it can reach (3).
    public static func defaultTargetR(initR: Int) -> Int { max(1, (initR * 8 + 6) / 12) }

    public var description: String {
        "target_r \(targetR), tinit \(tinit), tfinal \(tfinal), deltaT \(deltaT), beta1 \(beta1), beta2 \(beta2), "
            + "orth_reg_weight \(orthRegWeight), total_step \(totalStep.map(String.init) ?? "none")"
    }

    func validate(initR: Int) throws {
        func need(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TinhError.invalidInput(message()) }
        }
        // Without a schedule (no total steps: an adapter used as it is) the target is never reached for.
        try need(totalStep == nil || (targetR >= 1 && targetR <= initR), "--target-r must be between 1 and --init-r (\(initR)), got \(targetR)")
        try need(tinit >= 0 && tfinal >= 0, "--tinit and --tfinal must be ≥ 0")
        try need(deltaT >= 1, "--delta-t must be ≥ 1, got \(deltaT)")
        try need(beta1 > 0 && beta1 < 1 && beta2 > 0 && beta2 < 1, "--ipt-beta1 and --ipt-beta2 must lie in (0, 1)")
        try need(orthRegWeight >= 0 && orthRegWeight.isFinite, "--orth-reg-weight must be a finite number ≥ 0")
        if let total = totalStep {
            try need(total - tfinal - tinit > 0,
                     "AdaLoRA's schedule needs --tinit (\(tinit)) + --tfinal (\(tfinal)) below --steps (\(total))")
        }
    }
}
