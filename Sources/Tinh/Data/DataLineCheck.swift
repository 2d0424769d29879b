import Foundation

/// One non-blank line of a JSONL file: its raw bytes (for `DataDedup` to copy unchanged) and its
/// record, or nil when the line is malformed.
public struct ScannedLine: Sendable {
    public var line: Int
    public var bytes: Data
    public var record: TrainingRecord?
}

/// A JSONL file read line by line without stopping at bad lines, with the per-line findings.
public struct ScannedFile: Sendable {
    public var path: String
    public var lines: [ScannedLine] = []
    public var issues: [DataIssue] = []
    public var blankLines = 0

    public var records: [(line: Int, record: TrainingRecord)] { lines.compactMap { l in l.record.map { (l.line, $0) } } }
    public var errors: [DataIssue] { issues.filter { $0.severity == .error } }
}

/// The cheap, per-line part of the data check (what `tinh train` runs at start): malformed lines,
/// invalid UTF-8, empty fields, chat role order, control characters and odd characters.
///
/// Errors are what makes an example useless or wrong to train on: a line that does not parse, a
/// text, completion or assistant turn that is empty (nothing to learn), a chat whose roles are out
/// of order or that has no assistant turn. Empty prompts and user turns, control characters and
/// odd characters are warnings.
public enum DataLineCheck {
    public static func scan(path: String) throws -> ScannedFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        var file = ScannedFile(path: path)
        var lineNumber = 0
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for raw in lines {
            lineNumber += 1
            if lineNumber == lines.count && raw.isEmpty { break }  // the newline ending the last line
            if let column = firstInvalidUTF8(raw) {
                file.lines.append(ScannedLine(line: lineNumber, bytes: Data(raw), record: nil))
                file.issues.append(DataIssue(.error, .invalidUTF8, path: path, line: lineNumber,
                                             "not valid UTF-8 (first bad byte at byte \(column)); re-encode the file as UTF-8"))
                continue
            }
            do {
                guard let record = try JSONLReader.parse(line: raw) else { file.blankLines += 1; continue }
                file.lines.append(ScannedLine(line: lineNumber, bytes: Data(raw), record: record))
                file.issues += check(record, path: path, line: lineNumber)
            } catch let error as JSONLReader.LineError {
                file.lines.append(ScannedLine(line: lineNumber, bytes: Data(raw), record: nil))
                file.issues.append(DataIssue(.error, .malformed, path: path, line: lineNumber, error.message))
            }
        }
        return file
    }

    /// 1-based byte offset of the first byte that is not valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: Data.SubSequence) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset + 1
            case .emptyInput: return nil
            }
        }
    }

    /// Findings about one parsed record.
    static func check(_ record: TrainingRecord, path: String, line: Int) -> [DataIssue] {
        var issues: [DataIssue] = []
        func issue(_ severity: DataIssue.Severity, _ kind: DataIssue.Kind, _ message: String) {
            issues.append(DataIssue(severity, kind, path: path, line: line, message))
        }
        func blank(_ s: String) -> Bool { s.allSatisfy(\.isWhitespace) }
        switch record {
        case .text(let text):
            if blank(text) { issue(.error, .emptyField, "\"text\" is empty or whitespace only: nothing to learn") }
        case .promptCompletion(let prompt, let completion):
            if blank(completion) { issue(.error, .emptyField, "\"completion\" is empty or whitespace only: no token carries loss") }
            if blank(prompt) { issue(.warning, .emptyField, "\"prompt\" is empty or whitespace only") }
        case .chat(let messages):
            for (i, m) in messages.enumerated() where blank(m.content) {
                let assistant = m.role == "assistant"
                issue(assistant ? .error : .warning, .emptyField,
                      "message \(i + 1) (\(m.role)) has empty or whitespace-only content" + (assistant ? ": nothing to learn from this turn" : ""))
            }
            issues += roleOrder(messages).map { DataIssue($0.severity, .roleOrder, path: path, line: line, $0.message) }
        }
        for (field, value) in fields(record) {
            if let note = controlCharacters(value) { issue(.warning, .controlCharacters, "\(field) has \(note)") }
            if let note = oddCharacters(value) { issue(.warning, .oddCharacters, "\(field) has \(note)") }
        }
        return issues
    }

    /// Chats are [system] user assistant user assistant ...: a system message only first, then
    /// strictly alternating turns starting with the user, and at least one assistant turn (the
    /// only turns that carry loss). A trailing user turn is a warning: it is never trained on.
    static func roleOrder(_ messages: [ChatMessage]) -> [(severity: DataIssue.Severity, message: String)] {
        var found: [(DataIssue.Severity, String)] = []
        var expected = "user"
        for (i, m) in messages.enumerated() {
            if m.role == "system" {
                if i != 0 { found.append((.error, "role order: message \(i + 1) is a system message; only the first message may be one")) }
                continue
            }
            if m.role != expected {
                let after = i > 0 ? " after a \(messages[i - 1].role) message" : ""
                found.append((.error, "role order: message \(i + 1) is \(m.role)\(after); expected \(expected) "
                              + "(turns alternate user, assistant, starting with the user)"))
                break  // one order error per chat is enough to find it
            }
            expected = expected == "user" ? "assistant" : "user"
        }
        if !messages.contains(where: { $0.role == "assistant" }) {
            found.append((.error, "role order: no assistant message, so every token would be masked out of the loss"))
        } else if messages.last?.role == "user" {
            found.append((.warning, "role order: ends with a user message, which is never trained on"))
        }
        return found
    }

    /// Each string of a record with the name of its field.
    static func fields(_ record: TrainingRecord) -> [(String, String)] {
        switch record {
        case .text(let t): return [("\"text\"", t)]
        case .promptCompletion(let p, let c): return [("\"prompt\"", p), ("\"completion\"", c)]
        case .chat(let messages): return messages.enumerated().map { ("message \($0.offset + 1) (\($0.element.role))", $0.element.content) }
        }
    }

    /// C0 controls other than tab, newline and carriage return, DEL, and C1 controls.
    static func controlCharacters(_ s: String) -> String? {
        var count = 0, first: (Unicode.Scalar, Int)?
        for (i, u) in s.unicodeScalars.enumerated() {
            let v = u.value
            if (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || (v >= 0x7F && v <= 0x9F) {
                count += 1
                if first == nil { first = (u, i + 1) }
            }
        }
        guard let first else { return nil }
        return "\(count) control character(s) (first \(hex(first.0)) at character \(first.1))"
    }

    /// Signs of text damaged before it reached us: U+FFFD (bytes that were not valid in some
    /// earlier decoding), UTF-8 read as Latin-1 ("Ã©", "â€™"), a byte-order mark inside the text,
    /// and private-use characters.
    static func oddCharacters(_ s: String) -> String? {
        var notes: [String] = []
        let scalars = Array(s.unicodeScalars)
        if scalars.contains("\u{FFFD}") { notes.append("U+FFFD replacement characters (text damaged by an earlier decoding)") }
        if scalars.contains("\u{FEFF}") { notes.append("a byte-order mark U+FEFF inside the text") }
        var mojibake = false
        for i in 0..<max(0, scalars.count - 1) {
            let (a, b) = (scalars[i].value, scalars[i + 1].value)
            if (a == 0xC3 || a == 0xC2) && (0x80...0xBF).contains(b) { mojibake = true }
            if a == 0xE2 && b == 0x20AC { mojibake = true }  // "â€": UTF-8 of U+2018–U+201D read as Windows-1252
        }
        if mojibake { notes.append("UTF-8 decoded as Latin-1 (e.g. \"Ã©\" for \"é\", \"â€™\" for \"’\")") }
        if scalars.contains(where: { $0.properties.generalCategory == .privateUse }) { notes.append("private-use characters") }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }

    static func hex(_ u: Unicode.Scalar) -> String { "U+" + String(format: "%04X", u.value) }

    /// The record's text for duplicate detection: fields with their names, lower-cased, runs of
    /// whitespace made one space.
    public static func normalizedText(_ record: TrainingRecord) -> String {
        let raw: String
        switch record {
        case .text(let t): raw = t
        case .promptCompletion(let p, let c): raw = "prompt: \(p) completion: \(c)"
        case .chat(let messages): raw = messages.map { "\($0.role): \($0.content)" }.joined(separator: " ")
        }
        return raw.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
