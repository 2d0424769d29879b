import Foundation
import Testing
@testable import Tinh

/// Each family's chat template, recognized from tokenizer_config.json (and from the GGUF), renders
/// exactly what transformers' apply_chat_template rendered for reference.json's chat_cases.
@Suite struct TokenizerFamilyChatTests {
    struct ChatCase {
        let name: String
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let text: String?
        let ids: [Int32]
    }

    static func chatCases(_ family: String) throws -> [ChatCase] {
        let list = try FamilyFixture.reference(family)["chat_cases"] as? [[String: Any]] ?? []
        return list.map { c in
            let messages = (c["messages"] as? [[String: String]] ?? []).map { ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "") }
            return ChatCase(name: c["name"] as? String ?? "", messages: messages,
                            addGenerationPrompt: c["add_generation_prompt"] as? Bool ?? false,
                            text: c["text"] as? String, ids: (c["ids"] as? [Int] ?? []).map(Int32.init))
        }
    }

    @Test("the template renders transformers' text and ids", arguments: FamilyFixture.families)
    func rendersLikeTransformers(_ family: String) throws {
        let tok = try TokenizerFamilyTests.jsonTokenizer(family)
        let template = try #require(tok.chatTemplate, "\(family): template not recognized")
        for c in try Self.chatCases(family) {
            guard let text = c.text else {
                // transformers raised (Gemma 2 refuses a system message): so must Tinh.
                #expect(throws: TinhError.self, "\(family) \(c.name)") { try template.render(c.messages, addGenerationPrompt: c.addGenerationPrompt) }
                continue
            }
            #expect(try template.render(c.messages, addGenerationPrompt: c.addGenerationPrompt) == text, "\(family) \(c.name) \(c.addGenerationPrompt)")
            let encoded = try tok.encodeChat(c.messages, template: template, addGenerationPrompt: c.addGenerationPrompt)
            #expect(encoded.ids == c.ids, "\(family) \(c.name) \(c.addGenerationPrompt)")
        }
    }

    /// The GGUF carries the same template; its ids agree too except Mistral's, where llama.cpp puts a
    /// space before the text after each special token ("[INST] Hi" is ▁▁Hi there, ▁Hi in transformers).
    @Test("the GGUF's template renders the same", arguments: FamilyFixture.families)
    func ggufRendersTheSame(_ family: String) throws {
        let tok = try TokenizerFamilyTests.ggufTokenizer(family)
        let template = try #require(tok.chatTemplate, "\(family): GGUF template not recognized")
        for c in try Self.chatCases(family) {
            guard let text = c.text else { continue }
            #expect(try template.render(c.messages, addGenerationPrompt: c.addGenerationPrompt) == text, "\(family) \(c.name)")
            if family != "mistral" {
                #expect(try tok.encodeChat(c.messages, template: template, addGenerationPrompt: c.addGenerationPrompt).ids == c.ids,
                        "\(family) GGUF \(c.name) \(c.addGenerationPrompt)")
            }
        }
    }

    /// Loss goes on exactly the assistant replies and the end-of-turn token after each (Gemma 3: SPM,
    /// "model" turns, the system folded into the first user turn).
    @Test func lossMaskFollowsAssistantTurns() throws {
        let tok = try TokenizerFamilyTests.jsonTokenizer("gemma3")
        let template = try #require(tok.chatTemplate)
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Xin chào!"),
                        ChatMessage(role: "assistant", content: "Chào bạn 🙂"), ChatMessage(role: "user", content: "2+2?"),
                        ChatMessage(role: "assistant", content: "4")]
        let encoded = try tok.encodeChat(messages, template: template)
        #expect(encoded.ids == tok.encode(try template.render(messages, addGenerationPrompt: false)))
        var runs: [[Int32]] = [], current: [Int32] = []
        for (id, on) in zip(encoded.ids, encoded.assistantMask) {
            if on { current.append(id) } else if !current.isEmpty { runs.append(current); current = [] }
        }
        if !current.isEmpty { runs.append(current) }
        #expect(runs.map { tok.decode($0) } == ["Chào bạn 🙂<end_of_turn>", "4<end_of_turn>"])
        let example = try ExampleEncoder(tokenizer: tok, seq: 256).encode(.chat(messages)).example
        #expect(example.ids == encoded.ids)
    }

    @Test func templatesByName() throws {
        let tok = try TokenizerFamilyTests.jsonTokenizer("phi3")
        for name in ChatTemplate.names { _ = try tok.chatTemplate(named: name) }
        #expect(try tok.chatTemplate(named: "phi3") == tok.chatTemplate)
        #expect(throws: TinhError.self) { try tok.chatTemplate(named: "vicuna") }
        let unknown = try Tokenizer(tokens: (0..<256).map { String(ByteLevel.byteToScalar[$0]) }, merges: [],
                                    chatTemplate: "{{ messages[0]['content'] }}")
        #expect(unknown.chatTemplate == nil)
        do {
            _ = try unknown.chatTemplate(override: nil)
            Issue.record("an unrecognized template must be an error")
        } catch {
            #expect("\(error)".contains("--chat-template"))
        }
        #expect(try unknown.chatTemplate(override: .smolLM2) == .smolLM2)
    }
}
