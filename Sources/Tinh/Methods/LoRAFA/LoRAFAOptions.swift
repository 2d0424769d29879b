/// LoRA-FA's own option: whether B's gradient is projected as PEFT's LoRA-FA optimizer does.
public struct LoRAFAOptions: MethodOptions, Equatable {
    public var projection: Bool

    public init(projection: Bool = false) { self.projection = projection }

    public static var flags: [MethodFlag] {
        [MethodFlag("lora-fa-projection", help: "project B's gradient by (r/α)²·(A·Aᵀ)⁻¹ as PEFT's LoRA-FA optimizer does")]
    }
    public static var defaults: LoRAFAOptions { LoRAFAOptions() }

    public init(flags: MethodFlagValues, rank: Int, steps: Int) { self.init(projection: flags.isSet("lora-fa-projection")) }

    enum CodingKeys: String, CodingKey { case loraFAProjection }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        projection = try c.decodeIfPresent(Bool.self, forKey: .loraFAProjection) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(projection, forKey: .loraFAProjection)
    }

    public var fields: [(name: String, value: String)] { [("lora-fa-projection", "\(projection)")] }
}
