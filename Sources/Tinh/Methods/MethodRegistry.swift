/// Every fine-tuning method Tinh has: the ID that `--method`, configs and checkpoints name it by,
/// and the type that implements it. This file is the registry: adding a method is its folder under
/// Methods/ plus one case here and its type in `type`.
public enum MethodID: String, CaseIterable, Codable, Sendable {
    case lora
    case loraPlus = "lora-plus"
    case loraFA = "lora-fa"
    case vera
    case deltaLoRA = "delta-lora"
    case dora
    case qlora
    case adalora
    case full

    /// The type that implements the method.
    public var type: any FineTuningMethod.Type {
        switch self {
        case .lora: LoRAMethod.self
        case .loraPlus: LoRAPlusMethod.self
        case .loraFA: LoRAFAMethod.self
        case .vera: VeRAMethod.self
        case .deltaLoRA: DeltaLoRAMethod.self
        case .dora: DoRAMethod.self
        case .qlora: QLoRAMethod.self
        case .adalora: AdaLoRAMethod.self
        case .full: FullFineTuningMethod.self
        }
    }

    /// The name `--method` takes.
    public var name: String { rawValue }

    /// `--method NAME`: the method, or an error listing the choices.
    public init(parsing name: String) throws {
        guard let id = MethodID(rawValue: name) else {
            throw TinhError.invalidInput("unknown --method '\(name)'; available: \(MethodID.allCases.map(\.name).joined(separator: ", "))")
        }
        self = id
    }

    /// A saved config names its method by `rawValue`; one this build does not know is a clear error
    /// (a checkpoint from a newer Tinh), not a decoding trace.
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let id = MethodID(rawValue: name) else {
            throw TinhError.unsupported("method '\(name)' (saved by another version of Tinh); this one knows \(MethodID.allCases.map(\.name).joined(separator: ", "))")
        }
        self = id
    }

    /// Each method's `--method` help, in registry order.
    public static var help: String {
        allCases.map { "\($0.name) (\($0.type.help))" }.joined(separator: ", ")
    }
}
