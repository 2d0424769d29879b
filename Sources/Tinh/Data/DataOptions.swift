/// How a JSONL file becomes training data (the CLI's data flags).
public struct DataOptions: Equatable, Sendable {
    /// Training sequence length: examples keep at most seq + 1 tokens.
    public var seq: Int
    /// Put loss on prompts, system lines and user turns too.
    public var trainOnPrompt: Bool
    /// Concatenate short training examples into full rows (the validation set is never packed).
    public var pack: Bool
    /// Skip and count malformed lines instead of stopping at the first.
    public var skipBadLines: Bool
    /// Share of the training file held out for validation when there is no `validPath`.
    public var validFraction: Double
    /// A separate validation file; when set, nothing is held out of the training file.
    public var validPath: String?
    /// Seeds the hold-out choice.
    public var seed: UInt64
    /// The name of the chat template (`ChatTemplate.names`) to render chats with instead of the
    /// model's own (`--chat-template`); resolved against the tokenizer's BOS/EOS when data is encoded.
    public var chatTemplate: String?

    public init(seq: Int, trainOnPrompt: Bool = false, pack: Bool = false, skipBadLines: Bool = false,
                validFraction: Double = 0, validPath: String? = nil, seed: UInt64 = 0, chatTemplate: String? = nil) {
        self.seq = seq
        self.trainOnPrompt = trainOnPrompt
        self.pack = pack
        self.skipBadLines = skipBadLines
        self.validFraction = validFraction
        self.validPath = validPath
        self.seed = seed
        self.chatTemplate = chatTemplate
    }
}
