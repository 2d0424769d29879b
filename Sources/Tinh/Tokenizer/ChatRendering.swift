import Foundation

/// Rendering each `ChatTemplate.Style` exactly as the model's Jinja template does (checked against
/// transformers' `apply_chat_template` on the family fixtures), with the span of every message.
extension ChatTemplate {
    /// The prompt text for `messages`, ending with the assistant header when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try renderWithSpans(messages, addGenerationPrompt: addGenerationPrompt).text
    }

    /// Throws where the model's own template raises (roles that do not alternate, a system message
    /// Gemma 2 refuses, a role the template has no place for).
    public func renderWithSpans(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> RenderedChat {
        var out = ChatWriter()
        switch style {
        case .chatML(let defaultSystem):
            for (i, m) in messages.enumerated() {
                if i == 0, m.role != "system", let defaultSystem {
                    out.turn("system", nil, header: "<|im_start|>system\n", content: defaultSystem, end: "<|im_end|>", after: "\n")
                }
                out.turn(m.role, i, header: "<|im_start|>\(m.role)\n", content: m.content, end: "<|im_end|>", after: "\n")
            }
            if addGenerationPrompt { out.text += "<|im_start|>assistant\n" }
        case .qwen3:
            try renderQwen3(messages, &out)
            if addGenerationPrompt { out.text += "<|im_start|>assistant\n" }
        case .llama3:
            out.text += bos ?? ""
            for (i, m) in messages.enumerated() {
                out.turn(m.role, i, header: "<|start_header_id|>\(m.role)<|end_header_id|>\n\n", content: trim(m.content),
                         end: "<|eot_id|>", after: "")
            }
            if addGenerationPrompt { out.text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .mistral:
            try renderMistral(messages, &out)
        case .gemma(let folds):
            try renderGemma(messages, systemInFirstTurn: folds, &out)
            if addGenerationPrompt { out.text += "<start_of_turn>model\n" }
        case .phi3:
            for (i, m) in messages.enumerated() {
                guard ["system", "user", "assistant"].contains(m.role) else { continue }  // the template skips others
                out.turn(m.role, i, header: "<|\(m.role)|>\n", content: m.content, end: "<|end|>", after: "\n")
            }
            out.text += addGenerationPrompt ? "<|assistant|>\n" : eos ?? ""
        }
        return RenderedChat(text: out.text, spans: out.spans)
    }

    /// Mistral-7B-Instruct-v0.3: BOS, then `[INST] user[/INST]` and ` assistant</s>`; the system
    /// message is written before the last message's content when that message is a user one.
    private func renderMistral(_ messages: [ChatMessage], _ out: inout ChatWriter) throws {
        let system = messages.first?.role == "system" ? messages[0].content : nil
        let offset = system == nil ? 0 : 1
        let loop = Array(messages.dropFirst(offset))
        for (i, m) in loop.enumerated() where (m.role == "user") != (i % 2 == 0) {
            throw TinhError.invalidInput("chat template: after the optional system message, conversation roles must alternate user/assistant/user/assistant/...")
        }
        out.text += bos ?? ""
        for (i, m) in loop.enumerated() {
            switch m.role {
            case "user":
                let content = i == loop.count - 1 && system != nil ? system! + "\n\n" + m.content : m.content
                out.turn("user", i + offset, header: "[INST] ", content: content, end: "[/INST]", after: "")
            case "assistant":
                out.turn("assistant", i + offset, header: " ", content: trim(m.content), end: eos ?? "", after: "")
            default:
                throw TinhError.invalidInput("chat template: only user and assistant roles are supported, with the exception of an initial optional system message")
            }
        }
    }

    /// Gemma: BOS, turns with "model" for the assistant; Gemma 3 puts the system text and a blank
    /// line at the start of the first turn, Gemma 2 raises on a system message.
    private func renderGemma(_ messages: [ChatMessage], systemInFirstTurn: Bool, _ out: inout ChatWriter) throws {
        var prefix = ""
        var offset = 0
        if messages.first?.role == "system" {
            guard systemInFirstTurn else { throw TinhError.invalidInput("chat template: System role not supported (Gemma 2)") }
            prefix = messages[0].content + "\n\n"
            offset = 1
        }
        let loop = Array(messages.dropFirst(offset))
        out.text += bos ?? ""
        for (i, m) in loop.enumerated() {
            guard (m.role == "user") == (i % 2 == 0) else {
                throw TinhError.invalidInput("chat template: conversation roles must alternate user/assistant/user/assistant/...")
            }
            let role = m.role == "assistant" ? "model" : m.role
            out.turn(m.role, i + offset, header: "<start_of_turn>\(role)\n" + (i == 0 ? prefix : ""), content: trim(m.content),
                     end: "<end_of_turn>", after: "\n")
        }
    }

    /// Qwen3's released template without tools: a leading system message, user turns, and
    /// assistant turns whose reasoning (a `<think>` block inside the content) is written out only
    /// after the last user message, as an empty block when there is none and the turn is the last.
    private func renderQwen3(_ messages: [ChatMessage], _ out: inout ChatWriter) throws {
        if let first = messages.first, first.role == "system" {
            out.turn("system", 0, header: "<|im_start|>system\n", content: first.content, end: "<|im_end|>", after: "\n")
        }
        let lastQuery = messages.lastIndex { $0.role == "user" && !($0.content.hasPrefix("<tool_response>") && $0.content.hasSuffix("</tool_response>")) }
            ?? messages.count - 1
        for (i, m) in messages.enumerated() {
            switch m.role {
            case "user":
                out.turn("user", i, header: "<|im_start|>user\n", content: m.content, end: "<|im_end|>", after: "\n")
            case "system":
                if i > 0 { out.turn("system", i, header: "<|im_start|>system\n", content: m.content, end: "<|im_end|>", after: "\n") }
            case "assistant":
                var content = m.content
                var reasoning = ""
                if let close = content.range(of: "</think>") {
                    let before = String(content[..<close.lowerBound])
                    reasoning = String(before.droppingTrailing("\n").components(separatedBy: "<think>").last ?? "").droppingLeading("\n")
                    content = String(content.components(separatedBy: "</think>").last ?? "").droppingLeading("\n")
                }
                var body = content
                if i > lastQuery && (i == messages.count - 1 || !reasoning.isEmpty) {
                    body = "<think>\n" + reasoning.droppingLeading("\n").droppingTrailing("\n") + "\n</think>\n\n" + content.droppingLeading("\n")
                }
                out.turn("assistant", i, header: "<|im_start|>assistant\n", content: body, end: "<|im_end|>", after: "\n")
            default:
                throw TinhError.invalidInput("chat template: Tinh renders Qwen3's system, user and assistant roles, not \"\(m.role)\"")
            }
        }
    }

    /// Jinja's `trim`: Python's `str.strip()`.
    private func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// Appends turns to a rendered chat, recording byte offsets (String.utf8.count is O(1) for native strings).
private struct ChatWriter {
    var text = ""
    var spans: [MessageSpan] = []

    mutating func turn(_ role: String, _ index: Int?, header: String, content: String, end: String, after: String) {
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
}

private extension String {
    func droppingLeading(_ c: Character) -> String { String(drop { $0 == c }) }
    func droppingTrailing(_ c: Character) -> String {
        var s = Substring(self)
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
