import Foundation

/// One training example as written in a JSONL file.
public enum TrainingRecord: Equatable, Sendable {
    /// `{"text": ...}`: every token carries loss.
    case text(String)
    /// `{"prompt": ..., "completion": ...}`: by default only the completion carries loss.
    case promptCompletion(prompt: String, completion: String)
    /// `{"messages": [{"role": ..., "content": ...}, ...]}`: by default only assistant turns carry loss.
    case chat([ChatMessage])
}

/// A record and the 1-based line it came from, for error messages further on.
public struct NumberedRecord: Equatable, Sendable {
    public var line: Int
    public var record: TrainingRecord
}

/// Reads JSONL training data. A malformed line is an error naming the file and line, or, with
/// `skipBadLines`, is skipped and reported in `skipped`.
public enum JSONLReader {
    public struct Result: Sendable {
        public var records: [NumberedRecord]
        /// "file:line: reason" for each skipped line.
        public var skipped: [String]
    }

    public static let roles: Set<String> = ["system", "user", "assistant"]

    public static func read(path: String, skipBadLines: Bool = false) throws -> Result {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try read(data: data, path: path, skipBadLines: skipBadLines)
    }

    /// Parses JSONL already in memory; `path` names it in messages.
    public static func read(data: Data, path: String, skipBadLines: Bool = false) throws -> Result {
        var result = Result(records: [], skipped: [])
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            do {
                if let record = try parse(line: rawLine) {
                    result.records.append(NumberedRecord(line: lineNumber, record: record))
                }
            } catch let reason as LineError {
                let message = "\(path):\(lineNumber): \(reason.message)"
                guard skipBadLines else { throw TinhError.invalidInput(message) }
                result.skipped.append(message)
            }
        }
        if result.records.isEmpty {
            throw TinhError.invalidInput("\(path): no examples (\(result.skipped.count) bad line(s) skipped, \(lineNumber) line(s) read)")
        }
        return result
    }

    struct LineError: Error { var message: String }

    /// One line to a record; nil for a blank line.
    static func parse(line bytes: Data.SubSequence) throws -> TrainingRecord? {
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw LineError(message: "not valid UTF-8") }
        if text.allSatisfy(\.isWhitespace) { return nil }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
            throw LineError(message: "not valid JSON (\(String(text.prefix(60))))")
        }
        guard let fields = object as? [String: Any] else { throw LineError(message: "expected a JSON object") }
        if let messages = fields["messages"] {
            guard let list = messages as? [[String: Any]], !list.isEmpty else {
                throw LineError(message: "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects")
            }
            return .chat(try list.enumerated().map { i, m in
                guard let role = m["role"] as? String, let content = m["content"] as? String else {
                    throw LineError(message: "message \(i + 1) needs string \"role\" and \"content\"")
                }
                guard roles.contains(role) else {
                    throw LineError(message: "message \(i + 1) has role \"\(role)\"; expected system, user or assistant")
                }
                return ChatMessage(role: role, content: content)
            })
        }
        if fields["prompt"] != nil || fields["completion"] != nil {
            guard let prompt = fields["prompt"] as? String, let completion = fields["completion"] as? String else {
                throw LineError(message: "\"prompt\" and \"completion\" must both be strings")
            }
            return .promptCompletion(prompt: prompt, completion: completion)
        }
        if let value = fields["text"] {
            guard let text = value as? String else { throw LineError(message: "\"text\" must be a string") }
            return .text(text)
        }
        throw LineError(message: "expected \"text\", \"prompt\" + \"completion\", or \"messages\" (found keys: \(fields.keys.sorted().joined(separator: ", ")))")
    }
}
