/// The method flags a run was given (`--vera-seed 3`, `--lora-fa-projection`), read from the
/// arguments `tinh train` did not know itself, and checked against the method in one place:
/// a flag of another method, an unknown flag or a bad value is a clear error.
public struct MethodFlagValues: Sendable, Equatable {
    /// Given flags by name (without "--"); nil for a switch.
    public private(set) var values: [String: String?] = [:]

    public init(_ values: [String: String?] = [:]) { self.values = values }

    /// Every flag any method takes, by name, with the methods that take it.
    static var known: [String: (flag: MethodFlag, methods: [MethodID])] {
        var out: [String: (MethodFlag, [MethodID])] = [:]
        for id in MethodID.allCases {
            for flag in id.type.optionsType.flags { out[flag.name, default: (flag, [])].1.append(id) }
        }
        return out
    }

    /// Reads `--name value`, `--name=value` and switches from `arguments`.
    public static func parse(_ arguments: [String]) throws -> MethodFlagValues {
        let known = Self.known
        var out = MethodFlagValues()
        var i = 0
        while i < arguments.count {
            let token = arguments[i]
            guard token.hasPrefix("--") else { throw TinhError.invalidInput("unexpected argument '\(token)'") }
            var name = String(token.dropFirst(2)), value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let entry = known[name] else { throw TinhError.invalidInput("Unknown option '--\(name)'") }
            if entry.flag.valueName != nil, value == nil {
                guard i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") else {
                    throw TinhError.invalidInput("Missing value for '--\(name) <\(entry.flag.valueName!)>'")
                }
                value = arguments[i + 1]
                i += 1
            } else if entry.flag.valueName == nil, value != nil {
                throw TinhError.invalidInput("'--\(name)' is a switch and takes no value")
            }
            guard out.values[name] == nil else { throw TinhError.invalidInput("'--\(name)' is given twice") }
            out.values[name] = .some(value)
            i += 1
        }
        return out
    }

    /// Every flag given belongs to `method`.
    public func check(for method: MethodID) throws {
        let mine = Set(method.type.optionsType.flags.map(\.name))
        let known = Self.known
        for name in values.keys.sorted() where !mine.contains(name) {
            let owners = known[name]?.methods.map(\.name).joined(separator: ", ") ?? "no method"
            throw TinhError.invalidInput("--\(name) applies to --method \(owners) only (this run uses \(method.name))")
        }
    }

    /// The methods' flags, for `tinh train --help`: each method's own, under its name.
    public static var helpText: String {
        var lines = ["Method flags (only with their method):"]
        var listed = Set<String>()
        for id in MethodID.allCases {
            let flags = id.type.optionsType.flags.filter { !listed.contains($0.name) }
            guard !flags.isEmpty else { continue }
            let owners = known[flags[0].name]?.methods.map(\.name).joined(separator: ", ") ?? id.name
            lines.append("  \(owners):")
            for f in flags {
                listed.insert(f.name)
                lines.append("    --\(f.name)\(f.valueName.map { " <\($0)>" } ?? "")  \(f.help)")
            }
        }
        return lines.joined(separator: "\n")
    }

    public func isSet(_ name: String) -> Bool { values[name] != nil }

    public func string(_ name: String) -> String? { values[name] ?? nil }

    public func int(_ name: String) throws -> Int? { try typed(name, "an integer") { Int($0) } }
    public func uint64(_ name: String) throws -> UInt64? { try typed(name, "a non-negative integer") { UInt64($0) } }
    public func float(_ name: String) throws -> Float? { try typed(name, "a number") { Float($0) } }

    private func typed<T>(_ name: String, _ what: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = string(name) else { return nil }
        guard let value = parse(text) else { throw TinhError.invalidInput("--\(name) \(text): expected \(what)") }
        return value
    }
}
