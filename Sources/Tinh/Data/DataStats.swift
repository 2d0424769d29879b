/// What reading one JSONL file produced, for the log.
public struct DataStats: Equatable, Sendable {
    public var path: String
    public var textRecords = 0
    public var promptCompletionRecords = 0
    public var chatRecords = 0
    /// Tokens after truncation, over all records of the file.
    public var tokens = 0
    public var lossTokens = 0
    /// Examples longer than seq + 1 tokens, cut at the end.
    public var truncated = 0
    /// Examples left with no loss token (e.g. an empty completion, or one cut off by truncation);
    /// dropped, since they would cost compute and teach nothing.
    public var withoutLoss = 0
    /// "file:line: reason" for each malformed line skipped with `skipBadLines`.
    public var skippedLines: [String] = []

    public init(path: String) { self.path = path }

    public var records: Int { textRecords + promptCompletionRecords + chatRecords }

    public var summary: String {
        var shapes: [String] = []
        if textRecords > 0 { shapes.append("\(textRecords) text") }
        if promptCompletionRecords > 0 { shapes.append("\(promptCompletionRecords) prompt/completion") }
        if chatRecords > 0 { shapes.append("\(chatRecords) chat") }
        var parts = ["\(path): \(records) records (\(shapes.joined(separator: ", ")))",
                     "\(tokens) tokens", "\(lossTokens) with loss"]
        if truncated > 0 { parts.append("\(truncated) truncated") }
        if withoutLoss > 0 { parts.append("\(withoutLoss) without loss dropped") }
        if !skippedLines.isEmpty { parts.append("\(skippedLines.count) bad lines skipped") }
        return parts.joined(separator: ", ")
    }
}
