import Foundation
import Yams

/// A YAML config file as command-line flags: each top-level key is a long flag name (snake_case or
/// kebab-case, `lr`, `grad_accum`, `min-lr-ratio`), so every flag of a command is settable from a
/// file without a list of them to keep in step. Values: a scalar is the flag's value, `true` is a
/// switch that is on (`false` and `null` leave the default), a list is joined with commas
/// (`targets: [q, v]` → `--targets q,v`). Flags on the command line win over the file.
public enum ConfigFile {
    /// One key of the file, as the flag it becomes.
    public struct Entry: Equatable, Sendable {
        public var key: String
        /// "--name".
        public var flag: String
        /// The flag's value; nil for a switch.
        public var value: String?
        /// 1-based line of the key in the file.
        public var line: Int
    }

    public static func entries(path: String) throws -> [Entry] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read the config file: \(error.localizedDescription)")
        }
        return try entries(yaml: text, path: path)
    }

    public static func entries(yaml: String, path: String) throws -> [Entry] {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw TinhError.invalidInput("\(path): not valid YAML: \(error)")
        }
        guard let root else { return [] }
        guard let mapping = root.mapping else {
            throw TinhError.invalidInput("\(path):\(root.mark?.line ?? 1): a config file is a mapping of flag names to values (e.g. `lr: 2e-4`)")
        }
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 1
            guard let key = keyNode.string, !key.isEmpty else { throw TinhError.invalidInput("\(path):\(line): a key must be a flag name") }
            let name = flagName(key)
            if let earlier = seen[name] { throw TinhError.invalidInput("\(path):\(line): '\(key)' is set twice (also on line \(earlier))") }
            seen[name] = line
            let flag = "--" + name
            switch valueNode {
            case .scalar(let scalar):
                if valueNode.null != nil { continue }
                if scalar.style == .plain, let on = valueNode.bool {
                    if on { entries.append(Entry(key: key, flag: flag, value: nil, line: line)) }
                    continue
                }
                entries.append(Entry(key: key, flag: flag, value: scalar.string, line: line))
            case .sequence(let items):
                let values = try items.map { item -> String in
                    guard let s = item.scalar?.string else {
                        throw TinhError.invalidInput("\(path):\(item.mark?.line ?? line): '\(key)': a list holds plain values only")
                    }
                    return s
                }
                entries.append(Entry(key: key, flag: flag, value: values.joined(separator: ","), line: line))
            default:
                throw TinhError.invalidInput("\(path):\(line): '\(key)' has a nested mapping; flags take a value, true/false or a list")
            }
        }
        return entries
    }

    /// "grad_accum", "--grad-accum" and "grad-accum" all name the flag "grad-accum".
    static func flagName(_ key: String) -> String {
        var k = key
        while k.hasPrefix("-") { k.removeFirst() }
        return k.replacingOccurrences(of: "_", with: "-")
    }

    /// The file's flags, less those `commandLine` sets itself, followed by `commandLine`.
    public static func merge(_ entries: [Entry], commandLine: [String]) -> [String] {
        let given = Set(commandLine.compactMap { arg -> String? in
            guard arg.hasPrefix("--") else { return nil }
            return String(arg.split(separator: "=", maxSplits: 1)[0])
        })
        var arguments: [String] = []
        for e in entries where !given.contains(e.flag) {
            arguments.append(e.flag)
            if let v = e.value { arguments.append(v) }
        }
        return arguments + commandLine
    }

    /// The entry a parse error about `flag` comes from, if the file set it.
    public static func entry(for flag: String, in entries: [Entry]) -> Entry? {
        entries.first { $0.flag == flag }
    }

    /// Flags as a YAML config (snake_case keys, in order), which `--config` reads back to the same
    /// flags. A token "--x" followed by one not starting with "--" is an option with that value;
    /// otherwise a switch (`x: true`). `skip` names flags left out (with their values).
    public static func yaml(arguments: [String], skip: Set<String> = []) throws -> String {
        var pairs: [(Node, Node)] = []
        var i = 0
        while i < arguments.count {
            var flag = arguments[i]
            var value: String?
            if let eq = flag.firstIndex(of: "="), flag.hasPrefix("--") {
                value = String(flag[flag.index(after: eq)...])
                flag = String(flag[..<eq])
            } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                value = arguments[i + 1]
                i += 1
            }
            i += 1
            guard flag.hasPrefix("--"), !skip.contains(flag) else { continue }
            let key = String(flag.dropFirst(2)).replacingOccurrences(of: "-", with: "_")
            let valueNode: Node = value.map { v in
                // Quote what YAML would otherwise read as something else (a bool, null, a list).
                let plain = Node(v)
                let reads = (try? Yams.compose(yaml: "k: " + v))??.mapping?["k"]
                return reads?.scalar?.string == v && reads?.bool == nil && reads?.null == nil
                    ? plain : Node(v, Tag(.str), .doubleQuoted)
            } ?? Node("true")
            pairs.append((Node(key), valueNode))
        }
        return try Yams.serialize(node: Node.mapping(Node.Mapping(pairs)))
    }
}
