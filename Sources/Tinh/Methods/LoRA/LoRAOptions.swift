/// LoRA's own option: how A and B start. Default Kaiming A and zero B; `--init pissa` the top-r
/// singular triplets of W, with W replaced by its residual (`PiSSA`).
public struct LoRAOptions: MethodOptions, Equatable {
    public var pissa: Bool

    public init(pissa: Bool = false) { self.pissa = pissa }

    public static var flags: [MethodFlag] {
        [MethodFlag("init", value: "INIT", help: "pissa: start A, B from W's top-r singular triplets and train on the residual (default: Kaiming A, zero B)")]
    }
    public static var defaults: LoRAOptions { LoRAOptions() }

    public init(flags: MethodFlagValues, rank: Int, steps: Int) throws {
        try self.init(initialization: flags.string("init"))
    }

    /// The saved "initialization" field: nil or "pissa".
    init(initialization: String?) throws {
        guard let i = initialization else { self.init(); return }
        guard i == PiSSA.name else { throw TinhError.invalidInput("--init '\(i)': the only choice is \(PiSSA.name) (default: the method's own init)") }
        self.init(pissa: true)
    }

    enum CodingKeys: String, CodingKey { case initialization }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(initialization: try c.decodeIfPresent(String.self, forKey: .initialization))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if pissa { try c.encode(PiSSA.name, forKey: .initialization) }
    }

    public var fields: [(name: String, value: String)] { [("init", pissa ? PiSSA.name : "default")] }
}
