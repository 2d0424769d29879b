/// Training data ready for the sampler: a JSONL file read, tokenized, masked, truncated, split into
/// train and valid (or a separate valid file), and the train side optionally packed.
///
/// Errors: a malformed line (file:line, unless `skipBadLines`), a file with no records, a chat record
/// for a tokenizer without a chat template, and data in which no token carries loss.
public struct TrainingDataset: Sendable {
    public let options: DataOptions
    public let train: ExampleSet
    /// Empty when nothing is held out and there is no `validPath`.
    public let valid: ExampleSet
    /// The training file (hold-out included).
    public let stats: DataStats
    /// The `validPath` file, if any.
    public let validStats: DataStats?
    /// Hash of seq, train and valid examples: what ranks compare at start.
    public let fingerprint: String

    public init(path: String, tokenizer: Tokenizer, options: DataOptions) throws {
        let encoder = try ExampleEncoder(tokenizer: tokenizer, seq: options.seq, trainOnPrompt: options.trainOnPrompt,
                                         chatTemplate: try options.chatTemplate.map(tokenizer.chatTemplate(named:)))
        guard options.validFraction >= 0, options.validFraction < 1 else {
            throw TinhError.invalidInput("the validation fraction must be in [0, 1), got \(options.validFraction)")
        }
        let padId = tokenizer.specialIds.pad ?? tokenizer.specialIds.eos ?? 0
        var (examples, stats) = try TrainingDataset.encodeFile(path, encoder, options)

        var trainExamples: [TokenizedExample]
        var validExamples: [TokenizedExample]
        var validStats: DataStats? = nil
        if let validPath = options.validPath {
            trainExamples = examples
            var encoded: [TokenizedExample]
            (encoded, validStats) = try TrainingDataset.encodeFile(validPath, encoder, options)
            validExamples = encoded
        } else {
            let (trainIndices, validIndices) = DataSplit.split(count: examples.count, fraction: options.validFraction, seed: options.seed)
            trainExamples = trainIndices.map { examples[$0] }
            validExamples = validIndices.map { examples[$0] }
        }
        examples = []
        trainExamples.removeAll { $0.lossTokens == 0 }
        validExamples.removeAll { $0.lossTokens == 0 }
        guard !trainExamples.isEmpty else {
            throw TinhError.invalidInput("\(path): every example with loss tokens went to the validation set; lower the validation fraction or add data")
        }
        if options.pack { trainExamples = Packing.pack(trainExamples, rowLength: encoder.maxTokens) }

        self.options = options
        self.train = ExampleSet(examples: trainExamples, seq: options.seq, padId: padId)
        self.valid = ExampleSet(examples: validExamples, seq: options.seq, padId: padId)
        self.stats = stats
        self.validStats = validStats
        var fingerprint = Fingerprint()
        fingerprint.combine(UInt64(options.seq))
        fingerprint.combine(trainExamples)
        fingerprint.combine(validExamples)
        self.fingerprint = fingerprint.hex
    }

    /// Every example of one file with loss tokens, unsplit and unpacked (for `tinh eval`).
    public static func evaluationSet(path: String, tokenizer: Tokenizer, options: DataOptions) throws -> (ExampleSet, DataStats) {
        let encoder = try ExampleEncoder(tokenizer: tokenizer, seq: options.seq, trainOnPrompt: options.trainOnPrompt,
                                         chatTemplate: try options.chatTemplate.map(tokenizer.chatTemplate(named:)))
        var (examples, stats) = try encodeFile(path, encoder, options)
        examples.removeAll { $0.lossTokens == 0 }
        let padId = tokenizer.specialIds.pad ?? tokenizer.specialIds.eos ?? 0
        return (ExampleSet(examples: examples, seq: options.seq, padId: padId), stats)
    }

    /// Log lines: each file's stats, then the split.
    public var summary: String {
        var lines = [stats.summary]
        if let validStats { lines.append(validStats.summary) }
        let packed = options.pack ? " (packed rows of up to \(options.seq + 1) tokens)" : ""
        lines.append("train \(train.count) examples\(packed), \(train.lossTokens) loss tokens; valid \(valid.count) examples, "
                     + "\(valid.lossTokens) loss tokens; fingerprint \(fingerprint)")
        return lines.joined(separator: "\n")
    }

    /// Every record of a file as an example, in file order (examples without loss included, so the
    /// split sees stable indices), and the file's stats. Fails if no token of the file carries loss.
    static func encodeFile(_ path: String, _ encoder: ExampleEncoder, _ options: DataOptions) throws -> ([TokenizedExample], DataStats) {
        let read = try JSONLReader.read(path: path, skipBadLines: options.skipBadLines)
        var stats = DataStats(path: path)
        stats.skippedLines = read.skipped
        var examples: [TokenizedExample] = []
        examples.reserveCapacity(read.records.count)
        for numbered in read.records {
            switch numbered.record {
            case .text: stats.textRecords += 1
            case .promptCompletion: stats.promptCompletionRecords += 1
            case .chat: stats.chatRecords += 1
            }
            let encoded: (example: TokenizedExample, truncated: Bool)
            do { encoded = try encoder.encode(numbered.record) } catch let error as TinhError {
                throw TinhError.invalidInput("\(path):\(numbered.line): \(error.description)")
            }
            let loss = encoded.example.lossTokens
            stats.tokens += encoded.example.count
            stats.lossTokens += loss
            if encoded.truncated { stats.truncated += 1 }
            if loss == 0 { stats.withoutLoss += 1 }
            examples.append(encoded.example)
        }
        if stats.lossTokens == 0 { throw allMaskedError(path, stats, encoder) }
        return (examples, stats)
    }

    static func allMaskedError(_ path: String, _ stats: DataStats, _ encoder: ExampleEncoder) -> TinhError {
        let n = stats.records
        if encoder.trainOnPrompt {
            return .invalidInput("\(path): no token to train on in \(n) example(s): each has fewer than 2 tokens")
        }
        var why = "only completions and assistant turns carry loss by default, and they are all empty"
        if stats.truncated > 0 { why += " or cut off by --seq \(encoder.maxTokens - 1) (\(stats.truncated) example(s) truncated)" }
        if stats.textRecords == 0 && stats.promptCompletionRecords == 0 && stats.chatRecords > 0 {
            why += " (do the chats have assistant messages?)"
        }
        return .invalidInput("\(path): every token of the \(n) example(s) is masked out: \(why). "
                             + "Pass --train-on-prompt to train on the whole text\(stats.truncated > 0 ? ", or raise --seq" : "").")
    }
}
