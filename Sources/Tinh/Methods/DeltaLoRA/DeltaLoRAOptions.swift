/// Delta-LoRA's own options: W moves by λ·s·Δ(B·A) after each optimizer step from `start` (0-based) on.
public struct DeltaLoRAOptions: MethodOptions, Equatable {
    public var lambda: Float
    public var start: Int

    /// The paper's setting for GPT-2 on E2E: update ratio 2, start steps 500.
    public static let defaultLambda: Float = 2
    public static let defaultStart = 500

    public init(lambda: Float = DeltaLoRAOptions.defaultLambda, start: Int = DeltaLoRAOptions.defaultStart) {
        self.lambda = lambda
        self.start = start
    }

    public static var flags: [MethodFlag] {
        [MethodFlag("delta-lambda", value: "λ", help: "W += λ·s·(B′A′ − BA) after each step; this is λ (default \(defaultLambda), the paper's)"),
         MethodFlag("delta-start", value: "STEPS", help: "optimizer steps done before W starts to move (default \(defaultStart), the paper's; 0: from the first step)")]
    }
    public static var defaults: DeltaLoRAOptions { DeltaLoRAOptions() }

    public init(flags: MethodFlagValues, rank: Int, steps: Int) throws {
        self.init(lambda: try flags.float("delta-lambda") ?? Self.defaultLambda, start: try flags.int("delta-start") ?? Self.defaultStart)
    }

    public func validate(rank: Int) throws {
        guard lambda.isFinite, lambda >= 0 else { throw TinhError.invalidInput("--delta-lambda must be a finite number ≥ 0, got \(lambda)") }
        guard start >= 0 else { throw TinhError.invalidInput("--delta-start must be ≥ 0, got \(start)") }
    }

    enum CodingKeys: String, CodingKey { case deltaLambda, deltaStart }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(lambda: try c.decodeIfPresent(Float.self, forKey: .deltaLambda) ?? Self.defaultLambda,
                  start: try c.decodeIfPresent(Int.self, forKey: .deltaStart) ?? Self.defaultStart)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lambda, forKey: .deltaLambda)
        try c.encode(start, forKey: .deltaStart)
    }

    public var fields: [(name: String, value: String)] { [("delta-lambda", "\(lambda)"), ("delta-start", "\(start)")] }
}
