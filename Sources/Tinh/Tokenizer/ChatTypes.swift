/// One turn of a conversation.
public struct ChatMessage: Codable, Equatable, Sendable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Where one message landed in a rendered chat, as UTF-8 byte ranges of the rendered text.
public struct MessageSpan: Equatable, Sendable {
    public let role: String
    /// Index in the input messages; nil for a line the template inserted (the default system line).
    public let messageIndex: Int?
    /// The whole turn, header through end-of-turn marker and trailing newline.
    public let turn: Range<Int>
    /// The message content only (for Qwen3, the think block the template writes is part of it).
    public let content: Range<Int>
    /// Content plus the end-of-turn token: what an assistant turn is trained to produce.
    public let completion: Range<Int>
}

/// A rendered conversation with the span of every message.
public struct RenderedChat: Equatable, Sendable {
    public let text: String
    public let spans: [MessageSpan]
}
