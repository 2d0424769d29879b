import Foundation

/// A method's own settings (VeRA's projection seed, Delta-LoRA's λ, ...), as a typed value in
/// `AdapterConfig.options`. They are parsed in one place, `init(flags:)`, from the flags a run was
/// given (the command line and a YAML config become the same flags), and they are saved in the
/// config's JSON under the same top-level keys Tinh has always used, so older checkpoints load.
public protocol MethodOptions: Codable, Sendable {
    /// The flags that set these options (`tinh train --vera-seed 3`, YAML `vera_seed: 3`).
    static var flags: [MethodFlag] { get }
    /// The options when no flag is given.
    static var defaults: Self { get }
    /// Parses this method's flags (the caller has checked that no other method's flag is given).
    /// `steps` is the run's --steps (AdaLoRA's schedule spans them).
    init(flags: MethodFlagValues, rank: Int, steps: Int) throws
    /// Checks the values against the run's rank, and against its --steps.
    func validate(rank: Int) throws
    func validate(steps: Int) throws
    /// Name and value of each setting, for "checkpoint vs this run" messages.
    var fields: [(name: String, value: String)] { get }
}

extension MethodOptions {
    public func validate(rank: Int) throws {}
    public func validate(steps: Int) throws {}
}

/// The options of a method that has none.
public struct NoMethodOptions: MethodOptions, Equatable {
    public static var flags: [MethodFlag] { [] }
    public static var defaults: NoMethodOptions { NoMethodOptions() }
    public init() {}
    public init(flags: MethodFlagValues, rank: Int, steps: Int) {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws {}
    public var fields: [(name: String, value: String)] { [] }
}

/// One method flag: `--name VALUE`, or a switch when `valueName` is nil.
public struct MethodFlag: Sendable, Equatable {
    public var name: String
    public var valueName: String?
    public var help: String
    public init(_ name: String, value: String? = nil, help: String) {
        self.name = name
        valueName = value
        self.help = help
    }
}
