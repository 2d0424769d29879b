import Foundation

/// `tinh data check`: a data-quality report before anyone trains. Per file: counts per record
/// shape and the per-line findings of `DataLineCheck`; exact duplicates (same normalized text) and
/// near duplicates (`MinHash`); with a validation file, records it shares with the training file
/// (leakage); with a tokenizer, the token-length distribution against `seq` and the share of tokens
/// that carry loss. Errors make the check fail; warnings do not.
public enum DataCheck {
    public struct Options: Sendable {
        /// Jaccard similarity of word-shingle sets at or above which two records are near duplicates.
        public var nearThreshold: Double = 0.8
        public var tokenizer: Tokenizer?
        public var seq: Int = 256
        public var trainOnPrompt = false
        /// A `ChatTemplate.names` name to render chat records with instead of the tokenizer's own (`--chat-template`).
        public var chatTemplate: String?

        public init(nearThreshold: Double = 0.8, tokenizer: Tokenizer? = nil, seq: Int = 256, trainOnPrompt: Bool = false,
                    chatTemplate: String? = nil) {
            self.nearThreshold = nearThreshold
            self.tokenizer = tokenizer
            self.seq = seq
            self.trainOnPrompt = trainOnPrompt
            self.chatTemplate = chatTemplate
        }
    }

    public static func run(path: String, validPath: String? = nil, options: Options = Options()) throws -> DataCheckReport {
        guard options.nearThreshold > 0, options.nearThreshold <= 1 else {
            throw TinhError.invalidInput("the near-duplicate threshold must be in (0, 1], got \(options.nearThreshold)")
        }
        let train = try DataLineCheck.scan(path: path)
        let valid = try validPath.map { try DataLineCheck.scan(path: $0) }
        let minHash = MinHash(threshold: options.nearThreshold)
        var issues: [DataIssue] = []
        var summaries: [DataFileSummary] = []
        var unique: [[Unique]] = []
        for file in [train] + (valid.map { [$0] } ?? []) {
            issues += file.issues
            let (kept, duplicates) = duplicateIssues(file, minHash: minHash, threshold: options.nearThreshold)
            issues += duplicates
            unique.append(kept)
            var summary = DataFileSummary(file)
            summary.exactDuplicates = duplicates.filter { $0.kind == .duplicate }.count
            summary.nearDuplicates = duplicates.filter { $0.kind == .nearDuplicate }.count
            if let tokenizer = options.tokenizer {
                let (stats, tokenIssues) = try tokenLengths(file, tokenizer: tokenizer, seq: options.seq,
                                                                trainOnPrompt: options.trainOnPrompt,
                                                                chatTemplate: try options.chatTemplate.map(tokenizer.chatTemplate(named:)))
                summary.tokens = stats
                issues += tokenIssues
            }
            summaries.append(summary)
        }
        if let valid, unique.count == 2 {
            issues += leakageIssues(train: unique[0], valid: unique[1], validPath: valid.path, minHash: minHash, threshold: options.nearThreshold)
        }
        return DataCheckReport(files: summaries, nearThreshold: options.nearThreshold, issues: sorted(issues))
    }

    /// A record kept for similarity checks: the first of its exact-duplicate group.
    struct Unique {
        var line: Int
        var text: String
        var shingles: [UInt64]
    }

    /// Exact duplicates (the later line names the first), then near duplicates among the first
    /// occurrences (each later record reported once, with its most similar earlier one).
    static func duplicateIssues(_ file: ScannedFile, minHash: MinHash, threshold: Double) -> ([Unique], [DataIssue]) {
        var firstLine: [String: Int] = [:]
        var kept: [Unique] = []
        var issues: [DataIssue] = []
        for (line, record) in file.records {
            let text = DataLineCheck.normalizedText(record)
            if let first = firstLine[text] {
                issues.append(DataIssue(.warning, .duplicate, path: file.path, line: line, "duplicate of line \(first) (same text after lower-casing and collapsing whitespace)"))
            } else {
                firstLine[text] = line
                kept.append(Unique(line: line, text: text, shingles: minHash.shingles(text)))
            }
        }
        var best: [Int: (Int, Double)] = [:]  // later index -> (earlier index, similarity)
        for (i, j, s) in minHash.similarPairs(shingleSets: kept.map(\.shingles), threshold: threshold) where s > (best[j]?.1 ?? -1) {
            best[j] = (i, s)
        }
        for (j, (i, s)) in best {
            issues.append(DataIssue(.warning, .nearDuplicate, path: file.path, line: kept[j].line,
                                    "near duplicate of line \(kept[i].line) (Jaccard \(String(format: "%.2f", s)) over \(minHash.shingleWords)-word shingles)"))
        }
        return (kept, issues)
    }

    /// Validation records also in the training file: exactly (an error: the eval would measure
    /// memorization) or nearly (a warning).
    static func leakageIssues(train: [Unique], valid: [Unique], validPath: String, minHash: MinHash, threshold: Double) -> [DataIssue] {
        var issues: [DataIssue] = []
        var trainLine: [String: Int] = [:]
        for u in train { trainLine[u.text] = u.line }
        var exact = Set<Int>()
        for (k, v) in valid.enumerated() {
            if let line = trainLine[v.text] {
                exact.insert(k)
                issues.append(DataIssue(.error, .leakage, path: validPath, line: v.line, "also in the training data (line \(line)): the eval would reward memorizing it"))
            }
        }
        let all = train.map(\.shingles) + valid.map(\.shingles)
        var best: [Int: (Int, Double)] = [:]
        for (i, j, s) in minHash.similarPairs(shingleSets: all, threshold: threshold) where i < train.count && j >= train.count {
            let k = j - train.count
            if !exact.contains(k), s > (best[k]?.1 ?? -1) { best[k] = (i, s) }
        }
        for (k, (i, s)) in best {
            issues.append(DataIssue(.warning, .nearLeakage, path: validPath, line: valid[k].line,
                                    "near duplicate of training line \(train[i].line) (Jaccard \(String(format: "%.2f", s)))"))
        }
        return issues
    }

    /// Token lengths of every record (untruncated), how many exceed seq + 1, and the loss share after truncation.
    static func tokenLengths(_ file: ScannedFile, tokenizer: Tokenizer, seq: Int, trainOnPrompt: Bool,
                             chatTemplate: ChatTemplate? = nil) throws -> (TokenLengthStats, [DataIssue]) {
        let full = try ExampleEncoder(tokenizer: tokenizer, seq: 1 << 24, trainOnPrompt: trainOnPrompt, chatTemplate: chatTemplate)
        var lengths: [Int] = []
        var stats = TokenLengthStats(seq: seq)
        var issues: [DataIssue] = []
        var truncatedLines: [Int] = []
        var unencodable: [Int] = []
        var firstEncodingError = ""
        for (line, record) in file.records {
            var example: TokenizedExample
            do { example = try full.encode(record).example } catch {
                if unencodable.isEmpty { firstEncodingError = "\(error)" }
                unencodable.append(line)
                continue
            }
            lengths.append(example.count)
            if example.truncate(to: seq + 1) { truncatedLines.append(line) }
            stats.tokens += example.count
            stats.lossTokens += example.lossTokens
            if example.lossTokens == 0 {
                stats.withoutLoss += 1
                issues.append(DataIssue(.warning, .noLoss, path: file.path, line: line,
                                        "no token carries loss after truncation to --seq \(seq) (training drops it)"))
            }
        }
        if let first = unencodable.first {
            issues.append(DataIssue(.error, .encoding, path: file.path, line: first,
                                    "\(firstEncodingError)" + (unencodable.count > 1 ? " (\(unencodable.count) records like this)" : "")))
        }
        if let first = truncatedLines.first {
            let shown = truncatedLines.prefix(10).map(String.init).joined(separator: ", ")
            issues.append(DataIssue(.warning, .truncated, path: file.path, line: first,
                                    "\(truncatedLines.count) record(s) are longer than --seq \(seq) + 1 tokens and will be cut (lines \(shown)\(truncatedLines.count > 10 ? ", ..." : ""))"))
        }
        stats.set(lengths: lengths, truncated: truncatedLines.count)
        return (stats, issues)
    }

    static func sorted(_ issues: [DataIssue]) -> [DataIssue] {
        issues.sorted { ($0.path, $0.line, $0.kind.rawValue) < ($1.path, $1.line, $1.kind.rawValue) }
    }
}

/// One file's counts in a `DataCheckReport`.
public struct DataFileSummary: Codable, Equatable, Sendable {
    public var path: String
    public var records = 0
    public var text = 0
    public var promptCompletion = 0
    public var chat = 0
    public var malformed = 0
    public var blankLines = 0
    public var exactDuplicates = 0
    public var nearDuplicates = 0
    public var tokens: TokenLengthStats?

    init(_ file: ScannedFile) {
        path = file.path
        blankLines = file.blankLines
        for l in file.lines {
            switch l.record {
            case .text?: text += 1
            case .promptCompletion?: promptCompletion += 1
            case .chat?: chat += 1
            case nil: malformed += 1
            }
        }
        records = text + promptCompletion + chat
    }
}

/// Token lengths of a file's records before truncation, against the training `seq`.
public struct TokenLengthStats: Codable, Equatable, Sendable {
    public var seq: Int
    public var examples = 0
    public var min = 0, median = 0, p90 = 0, p99 = 0, max = 0
    public var mean = 0.0
    /// Records longer than seq + 1 tokens (training keeps the first seq + 1).
    public var truncated = 0
    /// After truncation.
    public var tokens = 0
    public var lossTokens = 0
    public var withoutLoss = 0

    public var lossShare: Double { tokens > 0 ? Double(lossTokens) / Double(tokens) : 0 }

    mutating func set(lengths: [Int], truncated: Int) {
        self.truncated = truncated
        examples = lengths.count
        guard !lengths.isEmpty else { return }
        let s = lengths.sorted()
        func at(_ q: Double) -> Int { s[Swift.min(s.count - 1, Int((q * Double(s.count - 1)).rounded()))] }
        (min, median, p90, p99, max) = (s[0], at(0.5), at(0.9), at(0.99), s[s.count - 1])
        mean = Double(s.reduce(0, +)) / Double(s.count)
    }
}

/// What `tinh data check` prints (or, with --json, encodes).
public struct DataCheckReport: Codable, Sendable {
    public var files: [DataFileSummary]
    public var nearThreshold: Double
    public var issues: [DataIssue]

    public var errorCount: Int { issues.filter { $0.severity == .error }.count }
    public var warningCount: Int { issues.count - errorCount }
    public var passed: Bool { errorCount == 0 }

    /// The report as text; at most `perKind` issues of each kind are listed.
    public func text(perKind: Int = 20) -> String {
        var out: [String] = []
        for f in files {
            var shapes: [String] = []
            if f.text > 0 { shapes.append("\(f.text) text") }
            if f.promptCompletion > 0 { shapes.append("\(f.promptCompletion) prompt/completion") }
            if f.chat > 0 { shapes.append("\(f.chat) chat") }
            out.append("\(f.path): \(f.records) records (\(shapes.isEmpty ? "none" : shapes.joined(separator: ", "))), "
                       + "\(f.malformed) malformed, \(f.blankLines) blank line(s)")
            out.append("  duplicates: \(f.exactDuplicates) exact, \(f.nearDuplicates) near (Jaccard ≥ \(String(format: "%.2f", nearThreshold)))")
            if let t = f.tokens {
                out.append("  tokens per record: min \(t.min), median \(t.median), p90 \(t.p90), p99 \(t.p99), max \(t.max), mean \(String(format: "%.1f", t.mean))")
                out.append("  --seq \(t.seq): \(t.truncated) of \(t.examples) record(s) longer than \(t.seq + 1) tokens (cut); "
                           + "\(String(format: "%.1f", 100 * t.lossShare))% of the kept tokens carry loss (\(t.lossTokens) of \(t.tokens))")
            }
        }
        if files.count == 2 {
            let exact = issues.filter { $0.kind == .leakage }.count, near = issues.filter { $0.kind == .nearLeakage }.count
            out.append("leakage: \(exact) validation record(s) also in the training data, \(near) near")
        }
        if !issues.isEmpty { out.append("") }
        var shown: [DataIssue.Kind: Int] = [:]
        for issue in issues {
            shown[issue.kind, default: 0] += 1
            if shown[issue.kind]! <= perKind { out.append("\(issue.severity.rawValue): \(issue)") }
        }
        for kind in DataIssue.Kind.allCases {
            if let n = shown[kind], n > perKind { out.append("... and \(n - perKind) more \(kind.rawValue) (--json lists all)") }
        }
        out.append("")
        out.append("\(errorCount) error(s), \(warningCount) warning(s)" + (passed ? "" : ": fix the errors before training"))
        return out.joined(separator: "\n")
    }
}
