/// One finding of `DataCheck`: where it is, what kind, and whether it stops training.
public struct DataIssue: Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Severity: String, Codable, Sendable { case error, warning }

    /// What was found; the CLI groups and the tests match on these.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case malformed            // not JSON, not an object, not one of the record shapes
        case invalidUTF8 = "invalid-utf8"
        case emptyField = "empty-field"
        case roleOrder = "role-order"
        case controlCharacters = "control-characters"
        case oddCharacters = "odd-characters"
        case duplicate
        case nearDuplicate = "near-duplicate"
        case leakage              // a validation record also in the training data
        case nearLeakage = "near-leakage"
        case truncated            // longer than --seq + 1 tokens
        case noLoss = "no-loss"   // no token carries loss after truncation
        case encoding             // the tokenizer cannot encode it (chat without a template)
    }

    public var severity: Severity
    public var kind: Kind
    public var path: String
    /// 1-based line in `path`.
    public var line: Int
    public var message: String

    public init(_ severity: Severity, _ kind: Kind, path: String, line: Int, _ message: String) {
        self.severity = severity
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    /// "FILE:LINE: message", the form compilers use, so editors can jump to it.
    public var description: String { "\(path):\(line): \(message)" }
}
