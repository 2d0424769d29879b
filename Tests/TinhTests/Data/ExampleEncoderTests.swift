import Foundation
import Testing
@testable import Tinh

@Suite struct ExampleEncoderTests {
    typealias F = DataFixtures

    @Test func textHasEOSAndFullLossAndBOSOnlyWhenTheModelWantsIt() throws {
        let noBos = try ExampleEncoder(tokenizer: F.plainTokenizer(), seq: 64)
        let (a, cut) = try noBos.encode(.text("hi"))
        #expect(a.ids == F.bytes("hi") + [1] && !cut)
        #expect(a.lossMask == [false, true, true])

        let bos = try ExampleEncoder(tokenizer: F.plainTokenizer(addsBos: true), seq: 64)
        let b = try bos.encode(.text("hi")).example
        #expect(b.ids == [0] + F.bytes("hi") + [1])
        #expect(b.lossMask == [false, true, true, true])

        let noEos = try ExampleEncoder(tokenizer: F.plainTokenizer(eos: false), seq: 64)
        #expect(try noEos.encode(.text("hi")).example.ids == F.bytes("hi"))
    }

    @Test func promptCompletionWithoutTemplateMasksThePrompt() throws {
        let tok = try F.plainTokenizer(addsBos: true)
        let e = try ExampleEncoder(tokenizer: tok, seq: 64).encode(.promptCompletion(prompt: "Q:", completion: "A")).example
        #expect(e.ids == [0] + F.bytes("Q:") + F.bytes("A") + [1])
        #expect(e.lossMask == [false, false, false, true, true])

        let all = try ExampleEncoder(tokenizer: tok, seq: 64, trainOnPrompt: true).encode(.promptCompletion(prompt: "Q:", completion: "A")).example
        #expect(all.ids == e.ids && all.lossMask == [false, true, true, true, true])
    }

    /// Decoded text of the tokens with loss, joined with "|" between runs.
    func lossText(_ e: TokenizedExample, _ tok: Tokenizer) -> String {
        var runs: [[Int32]] = [], current: [Int32] = []
        for (id, on) in zip(e.ids, e.lossMask) {
            if on { current.append(id) } else if !current.isEmpty { runs.append(current); current = [] }
        }
        if !current.isEmpty { runs.append(current) }
        return runs.map { tok.decode($0) }.joined(separator: "|")
    }

    @Test func chatAndPromptCompletionUseTheTemplateOnTheTinyTokenizer() throws {
        let tok = try Tokenizer.tiny()
        let encoder = try ExampleEncoder(tokenizer: tok, seq: 256)
        let chat = try encoder.encode(.chat([
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi there"),
            ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Bye"),
            ChatMessage(role: "assistant", content: "See you."),
        ])).example
        #expect(lossText(chat, tok) == "Hello.<|im_end|>|See you.<|im_end|>")
        #expect(tok.decode(chat.ids).hasPrefix("<|im_start|>system\nBe brief.<|im_end|>\n"))

        let pc = try encoder.encode(.promptCompletion(prompt: "2+2=", completion: "4")).example
        #expect(tok.decode(pc.ids) == "<|im_start|>user\n2+2=<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n")
        #expect(lossText(pc, tok) == "4<|im_end|>")

        let all = try ExampleEncoder(tokenizer: tok, seq: 256, trainOnPrompt: true).encode(.promptCompletion(prompt: "2+2=", completion: "4")).example
        #expect(all.lossMask == [false] + [Bool](repeating: true, count: all.count - 1))
    }

    @Test func chatAndPromptCompletionOnSmolLM2() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "chatAndPromptCompletionOnSmolLM2") else { return }
        let encoder = try ExampleEncoder(tokenizer: tok, seq: 256)
        let pc = try encoder.encode(.promptCompletion(prompt: "What is 2+2?", completion: "It is 4.")).example
        #expect(tok.decode(pc.ids).hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"))
        #expect(lossText(pc, tok) == "It is 4.<|im_end|>")
        #expect(pc.ids.last == 198) // the template's newline after <|im_end|>, without loss
        let chat = try encoder.encode(.chat([ChatMessage(role: "user", content: "a"), ChatMessage(role: "assistant", content: "b c"),
                                             ChatMessage(role: "user", content: "d"), ChatMessage(role: "assistant", content: "e")])).example
        #expect(lossText(chat, tok) == "b c<|im_end|>|e<|im_end|>")
        let text = try encoder.encode(.text("Hello world")).example
        #expect(text.ids == tok.encode("Hello world") + [2]) // SmolLM2: no BOS, EOS <|im_end|>
    }

    @Test func chatWithoutTemplateIsAClearError() throws {
        let encoder = try ExampleEncoder(tokenizer: F.plainTokenizer(), seq: 8)
        #expect(throws: TinhError.self) { try encoder.encode(.chat([ChatMessage(role: "user", content: "x")])) }
        do { _ = try encoder.encode(.chat([ChatMessage(role: "user", content: "x")])) } catch {
            #expect("\(error)".contains("chat template"))
        }
    }

    @Test func truncatesToSeqPlusOne() throws {
        let encoder = try ExampleEncoder(tokenizer: F.plainTokenizer(), seq: 4)
        let (e, cut) = try encoder.encode(.text("abcdefg"))
        #expect(cut && e.ids == F.bytes("abcde") && e.lossMask.count == 5)
        let (short, notCut) = try encoder.encode(.text("abcd")) // 4 bytes + EOS = 5 = seq + 1
        #expect(!notCut && short.count == 5)
        #expect(throws: TinhError.self) { try ExampleEncoder(tokenizer: F.plainTokenizer(), seq: 0) }
    }
}
