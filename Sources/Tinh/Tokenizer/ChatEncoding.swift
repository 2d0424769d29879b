/// A tokenized conversation and which tokens an assistant wrote.
public struct EncodedChat: Equatable, Sendable {
    public let ids: [Int32]
    /// True on assistant content tokens and the end-of-turn token after them: the positions a
    /// trainer puts loss on. Same length as `ids`.
    public let assistantMask: [Bool]
}

extension Tokenizer {
    /// Renders and tokenizes a conversation in one string (so tokens merge exactly as at inference)
    /// and marks every token overlapping an assistant completion span.
    /// Special-token text inside message contents is matched as special, as Hugging Face does.
    public func encodeChat(_ messages: [ChatMessage], template: ChatTemplate,
                           addGenerationPrompt: Bool = false) throws -> EncodedChat {
        let rendered = try template.renderWithSpans(messages, addGenerationPrompt: addGenerationPrompt)
        let targets = rendered.spans.filter { $0.role == "assistant" }.map(\.completion)
        let tokens = encodeWithOffsets(rendered.text)
        var mask = [Bool](repeating: false, count: tokens.count)
        var t = 0
        // Tokens and targets are both in text order: one merge-like pass.
        for target in targets where !target.isEmpty {
            while t < tokens.count && tokens[t].bytes.upperBound <= target.lowerBound { t += 1 }
            var k = t
            while k < tokens.count && tokens[k].bytes.lowerBound < target.upperBound {
                if tokens[k].bytes.overlaps(target) { mask[k] = true }
                k += 1
            }
        }
        return EncodedChat(ids: tokens.map(\.id), assistantMask: mask)
    }
}
