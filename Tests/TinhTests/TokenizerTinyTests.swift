import Testing
@testable import Tinh

struct TokenizerTinyTests {
    @Test func tinyTokenizerIsUsable() throws {
        let tok = try Tokenizer.tiny()
        #expect(tok.vocabularySize == 512)
        #expect(tok.mergeCount > 50)
        #expect(tok.specialIds == SpecialTokenIds(bos: 1, eos: 2, pad: 0))
        #expect(tok.chatTemplate == ChatTemplate(style: .chatML(defaultSystemPrompt: nil)))
        let ids = tok.encode("The capital of France is Paris.")
        #expect(ids.count < 15)  // merges learned from the built-in text apply
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 512 })
        var rng = TestRNG(state: 5)
        for _ in 0..<200 {
            let text = TokenizerFixtures.randomText(&rng)
            #expect(tok.decode(tok.encode(text)) == text)
        }
    }

    @Test func tinyTokenizerIsDeterministic() throws {
        #expect(try Tokenizer.tiny().tokens == Tokenizer.tiny().tokens)
        #expect(try Tokenizer.tiny(vocabularySize: 300).vocabularySize == 300)
        #expect(throws: TinhError.self) { try Tokenizer.tiny(vocabularySize: 10) }
    }

    @Test func summaryNamesTheEssentials() throws {
        let summary = try Tokenizer.tiny().summary
        #expect(summary.contains("512 tokens") && summary.contains("bos=1") && summary.contains("ChatML"))
    }
}
