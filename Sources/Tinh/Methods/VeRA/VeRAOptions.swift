/// VeRA's own options: the seed of the shared projections (PEFT's projection_prng_key) and the
/// initial value of every d entry (PEFT's d_initial). Unset ones are absent from the saved JSON,
/// as they always were.
public struct VeRAOptions: MethodOptions, Equatable {
    public var seed: UInt64?
    public var dInit: Float?

    public init(projectionSeed: UInt64? = nil, initialD: Float? = nil) {
        seed = projectionSeed
        dInit = initialD
    }

    public var projectionSeed: UInt64 { seed ?? 0 }
    public var initialD: Float { dInit ?? 0.1 }

    public static var flags: [MethodFlag] {
        [MethodFlag("vera-seed", value: "SEED", help: "seed of the shared frozen projections A and B (PEFT's projection_prng_key; default 0)"),
         MethodFlag("vera-d-init", value: "D", help: "initial value of the trainable d vectors (PEFT's d_initial; default 0.1)")]
    }
    public static var defaults: VeRAOptions { VeRAOptions() }

    public init(flags: MethodFlagValues, rank: Int, steps: Int) throws {
        self.init(projectionSeed: try flags.uint64("vera-seed"), initialD: try flags.float("vera-d-init"))
    }

    public func validate(rank: Int) throws {
        if let d = dInit, !d.isFinite { throw TinhError.invalidInput("--vera-d-init must be finite, got \(d)") }
        guard rank <= VeRA.maxRank else {
            throw TinhError.invalidInput("--rank \(rank) is too large for VeRA (at most \(VeRA.maxRank); typical: 256-1024)")
        }
    }

    enum CodingKeys: String, CodingKey { case veraSeed, veraDInit }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(projectionSeed: try c.decodeIfPresent(UInt64.self, forKey: .veraSeed), initialD: try c.decodeIfPresent(Float.self, forKey: .veraDInit))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(seed, forKey: .veraSeed)
        try c.encodeIfPresent(dInit, forKey: .veraDInit)
    }

    public var fields: [(name: String, value: String)] { [("vera seed", "\(projectionSeed)"), ("vera d init", "\(initialD)")] }
}
