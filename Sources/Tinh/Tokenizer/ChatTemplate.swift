import Foundation

/// The chat formats Tinh renders itself; no general Jinja engine. `init(source:bos:eos:)`
/// recognizes a model's template by its markers (as llama.cpp does), so the choice comes from the
/// model's metadata; `named(_:bos:eos:)` picks one by name (`--chat-template`).
public struct ChatTemplate: Equatable, Sendable {
    public enum Style: Equatable, Sendable {
        /// `<|im_start|>role\ncontent<|im_end|>\n`. When the first message is not a system message,
        /// some templates (SmolLM2, Qwen2/2.5) insert a default system line first.
        case chatML(defaultSystemPrompt: String?)
        /// Qwen3: ChatML, and an assistant reply after the last user message gets a think block
        /// (`<think>\n…\n</think>\n\n`, empty unless the content holds one).
        case qwen3
        /// `<|begin_of_text|>` then `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`,
        /// contents trimmed, as Llama 3's template does.
        case llama3
        /// Mistral's `[INST] user[/INST] assistant</s>` after BOS; the system message goes before the
        /// last message when that is a user one (Mistral-7B-Instruct-v0.3), else it is dropped.
        case mistral
        /// Gemma's `<start_of_turn>user\n…<end_of_turn>\n`, "assistant" written "model", contents
        /// trimmed. Gemma 3 folds a system message into the first user turn; Gemma 2 refuses one.
        case gemma(systemInFirstTurn: Bool)
        /// Phi-3's `<|user|>\ncontent<|end|>\n`; EOS at the end unless a generation prompt follows.
        case phi3
    }

    public let style: Style
    /// The BOS/EOS text the template writes (`bos_token`, `eos_token`); nil for styles that write none.
    public let bos: String?
    public let eos: String?

    public init(style: Style, bos: String? = nil, eos: String? = nil) {
        self.style = style
        switch style {
        case .chatML, .qwen3: self.bos = nil; self.eos = nil
        case .llama3: self.bos = bos ?? "<|begin_of_text|>"; self.eos = nil
        case .mistral: self.bos = bos ?? "<s>"; self.eos = eos ?? "</s>"
        case .gemma: self.bos = bos ?? "<bos>"; self.eos = nil
        case .phi3: self.bos = nil; self.eos = eos ?? "<|endoftext|>"
        }
    }

    /// SmolLM2-Instruct's template.
    public static let smolLM2 = ChatTemplate(
        style: .chatML(defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))

    /// Recognizes a Jinja chat template by its markers; nil if it is none of the styles.
    public init?(source: String, bos: String? = nil, eos: String? = nil) {
        let style: Style
        if source.contains("<|start_header_id|>") && source.contains("<|eot_id|>") {
            style = .llama3
        } else if source.contains("<|im_start|>") {
            style = source.contains("</think>") ? .qwen3 : .chatML(defaultSystemPrompt: ChatTemplate.defaultSystemPrompt(in: source))
        } else if source.contains("[INST]") && source.contains("[/INST]") && !source.contains("<<SYS>>") {
            style = .mistral
        } else if source.contains("<start_of_turn>") {
            style = .gemma(systemInFirstTurn: source.contains("first_user_prefix"))
        } else if source.contains("<|user|>") && source.contains("<|assistant|>") && source.contains("<|end|>") {
            style = .phi3
        } else {
            return nil
        }
        self.init(style: style, bos: bos, eos: eos)
    }

    /// The names `named` accepts, as `--chat-template` lists them.
    public static let names = ["chatml", "qwen2", "qwen3", "smollm2", "llama3", "mistral", "gemma", "gemma2", "phi3"]

    /// A style by name, with the tokenizer's BOS/EOS text.
    public static func named(_ name: String, bos: String? = nil, eos: String? = nil) throws -> ChatTemplate {
        let style: Style
        switch name.lowercased() {
        case "chatml": style = .chatML(defaultSystemPrompt: nil)
        case "qwen2", "qwen2.5": style = .chatML(defaultSystemPrompt: "You are a helpful assistant.")
        case "qwen3": style = .qwen3
        case "smollm2": return .smolLM2
        case "llama3": style = .llama3
        case "mistral": style = .mistral
        case "gemma", "gemma3": style = .gemma(systemInFirstTurn: true)
        case "gemma2": style = .gemma(systemInFirstTurn: false)
        case "phi3": style = .phi3
        default:
            throw TinhError.invalidInput("unknown chat template \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
        return ChatTemplate(style: style, bos: bos, eos: eos)
    }

    /// What the error says when a model's template is not one Tinh recognizes.
    public static let unrecognizedAdvice = "Tinh recognizes ChatML (Qwen2/2.5/3, SmolLM2), Llama 3, Mistral [INST], "
        + "Gemma <start_of_turn> and Phi-3 <|user|> templates by their markers; pass --chat-template NAME "
        + "(one of \(names.joined(separator: ", "))) to choose one"

    /// A short name for `tinh inspect`.
    public var name: String {
        switch style {
        case .chatML(let system): return self == .smolLM2 ? "ChatML (SmolLM2)" : system == nil ? "ChatML" : "ChatML with default system prompt"
        case .qwen3: return "Qwen3 (ChatML with think blocks)"
        case .llama3: return "Llama 3"
        case .mistral: return "Mistral [INST]"
        case .gemma(let folds): return folds ? "Gemma 3" : "Gemma 2"
        case .phi3: return "Phi-3"
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
}

extension Tokenizer {
    /// The template to render chats with: `override` when given (a `--chat-template` choice), else
    /// the model's own; an error naming the way out when there is none Tinh can render.
    public func chatTemplate(override: ChatTemplate?) throws -> ChatTemplate {
        if let override { return override }
        if let chatTemplate { return chatTemplate }
        if chatTemplateSource == nil {
            throw TinhError.invalidInput("this model has no chat template; pass --chat-template NAME "
                + "(one of \(ChatTemplate.names.joined(separator: ", "))) or use {\"prompt\", \"completion\"} or {\"text\"} records")
        }
        throw TinhError.invalidInput("this model's chat template is not one Tinh can render. " + ChatTemplate.unrecognizedAdvice)
    }

    /// `ChatTemplate.named` with this tokenizer's BOS and EOS text.
    public func chatTemplate(named name: String) throws -> ChatTemplate {
        try ChatTemplate.named(name, bos: specialIds.bos.flatMap(token), eos: specialIds.eos.flatMap(token))
    }
}
