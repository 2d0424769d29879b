import Foundation
import Testing
@testable import Tinh

struct TokenizerChatTests {
    static let smolTemplateSource = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    @Test func recognizesSmolLM2Template() {
        #expect(ChatTemplate(source: Self.smolTemplateSource) == .smolLM2)
        // The same template with escaped newlines, as a JSON or Python dump may carry it.
        let escaped = Self.smolTemplateSource.replacingOccurrences(of: "\n", with: "\\n")
        #expect(ChatTemplate(source: escaped) == .smolLM2)
        // A template that writes the first message as system text has no default.
        #expect(ChatTemplate(source: "{{'<|im_start|>system\n' + message['content'] + '<|im_end|>'}}")
                == ChatTemplate(style: .chatML(defaultSystemPrompt: nil)))
        #expect(ChatTemplate(source: "{{ bos_token }}<|start_header_id|>{{ role }}<|end_header_id|>{{ content }}<|eot_id|>")?.style == .llama3)
        #expect(ChatTemplate(source: "[INST] {{ content }} [/INST]")?.style == .mistral)
        // Llama 2's [INST] with a <<SYS>> block is another format, not rendered.
        #expect(ChatTemplate(source: "[INST] <<SYS>>\n{{ system }}\n<</SYS>>\n\n{{ content }} [/INST]") == nil)
        #expect(ChatTemplate(source: "{{ messages }}") == nil)
    }

    @Test func smolLM2InsertsDefaultSystemLine() throws {
        let text = try ChatTemplate.smolLM2.render([ChatMessage(role: "user", content: "What is 2+2?")], addGenerationPrompt: true)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func smolLM2KeepsGivenSystemLine() throws {
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
                        ChatMessage(role: "assistant", content: "Hello!")]
        #expect(try ChatTemplate.smolLM2.render(messages, addGenerationPrompt: false)
                == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
        #expect(try ChatTemplate.smolLM2.render([], addGenerationPrompt: true) == "<|im_start|>assistant\n")
    }

    @Test func llama3Rendering() throws {
        let template = ChatTemplate(style: .llama3)
        let text = try template.render([ChatMessage(role: "user", content: "  Hi \n")], addGenerationPrompt: true)
        #expect(text == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    @Test func spansPointAtContents() throws {
        let messages = [ChatMessage(role: "user", content: "héllo"), ChatMessage(role: "assistant", content: "🙂 ok")]
        let rendered = try ChatTemplate.smolLM2.renderWithSpans(messages, addGenerationPrompt: false)
        let utf8 = Array(rendered.text.utf8)
        func text(_ r: Range<Int>) -> String { String(decoding: utf8[r], as: UTF8.self) }
        #expect(rendered.spans.map(\.role) == ["system", "user", "assistant"])
        #expect(rendered.spans.map(\.messageIndex) == [nil, 0, 1])
        #expect(text(rendered.spans[1].content) == "héllo")
        #expect(text(rendered.spans[2].completion) == "🙂 ok<|im_end|>")
        #expect(text(rendered.spans[2].turn) == "<|im_start|>assistant\n🙂 ok<|im_end|>\n")
    }

    /// The mask is on exactly the assistant content tokens and the `<|im_end|>` closing them.
    @Test func assistantMask() throws {
        let tok = try TokenizerFixtures.tiny()
        let messages = [ChatMessage(role: "user", content: "hello"), ChatMessage(role: "assistant", content: "the world"),
                        ChatMessage(role: "user", content: "again"), ChatMessage(role: "assistant", content: "")]
        let encoded = try tok.encodeChat(messages, template: .smolLM2)
        #expect(encoded.ids == tok.encode(try ChatTemplate.smolLM2.render(messages, addGenerationPrompt: false)))
        let masked = zip(encoded.ids, encoded.assistantMask).filter(\.1).map(\.0)
        let end = tok.id(ofToken: "<|im_end|>")!
        #expect(masked == tok.encode("the world") + [end, end])
    }

    @Test func tokenizerCarriesItsTemplate() throws {
        let tokens = (0..<256).map { String(ByteLevel.byteToScalar[$0]) }
        let tok = try Tokenizer(tokens: tokens, merges: [], chatTemplate: Self.smolTemplateSource)
        #expect(tok.chatTemplate == .smolLM2)
        #expect(tok.chatTemplateSource == Self.smolTemplateSource)
    }
}
