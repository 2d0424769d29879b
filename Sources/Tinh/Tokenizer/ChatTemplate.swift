import Foundation

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
    /// The message content only.
    public let content: Range<Int>
    /// Content plus the end-of-turn token: what an assistant turn is trained to produce.
    public let completion: Range<Int>
}

/// A rendered conversation with the span of every message.
public struct RenderedChat: Equatable, Sendable {
    public let text: String
    public let spans: [MessageSpan]
}

/// The chat formats Tinh renders itself; no general Jinja engine. `init(source:)` recognizes a
/// model's template string, so the choice comes from the model's metadata.
public struct ChatTemplate: Equatable, Sendable {
    public enum Style: Equatable, Sendable {
        /// `<|im_start|>role\ncontent<|im_end|>\n`. When the first message is not a system message,
        /// some templates (SmolLM2, Qwen2) insert a default system line first.
        case chatML(defaultSystemPrompt: String?)
        /// `<|begin_of_text|>` then `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`,
        /// contents trimmed, as Llama 3's template does.
        case llama3
    }

    public let style: Style

    public init(style: Style) { self.style = style }

    /// SmolLM2-Instruct's template.
    public static let smolLM2 = ChatTemplate(
        style: .chatML(defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))

    /// Recognizes a Jinja chat template by its markers; nil if it is neither ChatML nor Llama 3.
    public init?(source: String) {
        if source.contains("<|start_header_id|>") && source.contains("<|eot_id|>") {
            style = .llama3
        } else if source.contains("<|im_start|>") {
            style = .chatML(defaultSystemPrompt: ChatTemplate.defaultSystemPrompt(in: source))
        } else {
            return nil
        }
    }

    /// The literal system text a ChatML template writes when the conversation has none: the text
    /// between `<|im_start|>system` + newline and `<|im_end|>` when it is a plain string literal
    /// (a template that writes `message['content']` there has a quote right after the newline).
    static func defaultSystemPrompt(in source: String) -> String? {
        for newline in ["\n", "\\n"] {
            var searchRange = source.startIndex..<source.endIndex
            while let header = source.range(of: "<|im_start|>system" + newline, range: searchRange) {
                searchRange = header.upperBound..<source.endIndex
                guard let end = source.range(of: "<|im_end|>", range: searchRange) else { break }
                let literal = source[header.upperBound..<end.lowerBound]
                if !literal.isEmpty && !literal.contains(where: { "'\"{}".contains($0) }) {
                    return newline == "\n" ? String(literal) : String(literal).replacingOccurrences(of: "\\n", with: "\n")
                }
            }
        }
        return nil
    }

    /// The prompt text for `messages`, ending with the assistant header when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        renderWithSpans(messages, addGenerationPrompt: addGenerationPrompt).text
    }

    public func renderWithSpans(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> RenderedChat {
        var text = ""
        var spans: [MessageSpan] = []
        // Appends one turn, recording byte offsets (String.utf8.count is O(1) for native strings).
        func turn(_ role: String, _ index: Int?, header: String, content: String, end: String, after: String) {
            let start = text.utf8.count
            text += header
            let contentStart = text.utf8.count
            text += content
            let contentEnd = text.utf8.count
            text += end
            let completionEnd = text.utf8.count
            text += after
            spans.append(MessageSpan(role: role, messageIndex: index, turn: start..<text.utf8.count,
                                     content: contentStart..<contentEnd, completion: contentStart..<completionEnd))
        }
        switch style {
        case .chatML(let defaultSystem):
            for (i, m) in messages.enumerated() {
                if i == 0, m.role != "system", let defaultSystem {
                    turn("system", nil, header: "<|im_start|>system\n", content: defaultSystem, end: "<|im_end|>", after: "\n")
                }
                turn(m.role, i, header: "<|im_start|>\(m.role)\n", content: m.content, end: "<|im_end|>", after: "\n")
            }
            if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        case .llama3:
            text += "<|begin_of_text|>"
            for (i, m) in messages.enumerated() {
                turn(m.role, i, header: "<|start_header_id|>\(m.role)<|end_header_id|>\n\n",
                     content: m.content.trimmingCharacters(in: .whitespacesAndNewlines), end: "<|eot_id|>", after: "")
            }
            if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return RenderedChat(text: text, spans: spans)
    }
}
