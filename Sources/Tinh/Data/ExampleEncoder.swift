/// Turns records into `TokenizedExample`s. The rules (also in docs/data.md):
///
/// - `.text`: every token counts. BOS first only if `tokenizer.addsBosToken`; EOS last if the
///   tokenizer has one.
/// - `.promptCompletion`: with a chat template, rendered as a chat (user = prompt, assistant =
///   completion) and masked like `.chat`. Without one, prompt + completion + EOS, each part encoded
///   on its own (so the completion's tokens are the ones the model produces after the prompt at
///   inference), BOS first if `addsBosToken`; loss on the completion and EOS.
/// - `.chat`: rendered by the chat template; loss on assistant contents and the end-of-turn token
///   after each. A chat record needs a chat template: `chatTemplate` (a `--chat-template` choice)
///   or the tokenizer's own, recognized one; a model whose template Tinh does not recognize is an
///   error for chat and prompt/completion records alike, never a silent plain-text fallback.
/// - `trainOnPrompt`: every token counts, whatever the shape.
/// - Examples longer than `maxTokens` (seq + 1) are cut at the end.
///
/// Special-token text inside a record is matched as special, as Hugging Face tokenizers do.
public struct ExampleEncoder: Sendable {
    public let tokenizer: Tokenizer
    public let maxTokens: Int
    public let trainOnPrompt: Bool
    /// Overrides the tokenizer's own chat template when set.
    public let chatTemplate: ChatTemplate?

    /// - Parameter seq: training sequence length; examples keep at most seq + 1 tokens
    ///   (inputs are ids[0..<seq], targets ids[1...seq]).
    public init(tokenizer: Tokenizer, seq: Int, trainOnPrompt: Bool = false, chatTemplate: ChatTemplate? = nil) throws {
        guard seq >= 1, seq <= 1 << 24 else { throw TinhError.invalidInput("--seq must be between 1 and \(1 << 24), got \(seq)") }
        self.tokenizer = tokenizer
        self.maxTokens = seq + 1
        self.trainOnPrompt = trainOnPrompt
        self.chatTemplate = chatTemplate
    }

    /// The example and whether it was truncated.
    public func encode(_ record: TrainingRecord) throws -> (example: TokenizedExample, truncated: Bool) {
        var example: TokenizedExample
        switch record {
        case .text(let text):
            example = plain(prefix: nil, body: text)
        case .promptCompletion(let prompt, let completion):
            if chatTemplate != nil || tokenizer.chatTemplateSource != nil {
                example = try chat([ChatMessage(role: "user", content: prompt),
                                    ChatMessage(role: "assistant", content: completion)], tokenizer.chatTemplate(override: chatTemplate))
            } else {
                example = plain(prefix: prompt, body: completion)
            }
        case .chat(let messages):
            example = try chat(messages, tokenizer.chatTemplate(override: chatTemplate))
        }
        let truncated = example.truncate(to: maxTokens)
        return (example, truncated)
    }

    /// [BOS] prefix body [EOS]; loss on body and EOS (on everything with `trainOnPrompt`).
    private func plain(prefix: String?, body: String) -> TokenizedExample {
        var ids: [Int32] = []
        if tokenizer.addsBosToken, let bos = tokenizer.specialIds.bos { ids.append(bos) }
        if let prefix { ids += tokenizer.encode(prefix) }
        let promptCount = trainOnPrompt ? 0 : ids.count
        ids += tokenizer.encode(body)
        if let eos = tokenizer.specialIds.eos { ids.append(eos) }
        var mask = [Bool](repeating: true, count: ids.count)
        for i in 0..<promptCount { mask[i] = false }
        return TokenizedExample(ids: ids, lossMask: mask)
    }

    private func chat(_ messages: [ChatMessage], _ template: ChatTemplate) throws -> TokenizedExample {
        let encoded = try tokenizer.encodeChat(messages, template: template)
        let mask = trainOnPrompt ? [Bool](repeating: true, count: encoded.ids.count) : encoded.assistantMask
        return TokenizedExample(ids: encoded.ids, lossMask: mask)
    }
}
