import Foundation
import Testing
@testable import Tinh

/// SmolLM2's real tokenizer (from the cached GGUF) against ids Hugging Face produced
/// (Fixtures/smollm2/smollm2-tokens.json, from Fixtures/make_smollm2_reference.py).
struct TokenizerSmolLM2Tests {
    struct Case: Decodable { let text: String; let ids: [Int32] }
    struct Reference: Decodable { let cases: [Case] }

    @Test func matchesReferenceIds() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "matchesReferenceIds") else { return }
        let data = try ReferenceFiles.data("smollm2/smollm2-tokens.json")
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        #expect(reference.cases.count >= 15)
        var matched = 0
        for c in reference.cases {
            let ids = tok.encode(c.text)
            #expect(ids == c.ids, "\(c.text.debugDescription)")
            #expect(tok.decode(ids) == c.text)
            if ids == c.ids { matched += 1 }
        }
        print("SmolLM2 tokenizer: \(matched)/\(reference.cases.count) reference cases match")
    }

    @Test func metadata() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "metadata") else { return }
        #expect(tok.vocabularySize == 49152)
        #expect(tok.preTokenizer == .gpt2IndividualDigits)
        #expect(tok.specialIds == SpecialTokenIds(bos: 1, eos: 2, pad: 2, unk: 0))
        #expect(tok.chatTemplate == .smolLM2)
        #expect(tok.encode("<|im_start|><|im_end|><|endoftext|>") == [1, 2, 0])
        #expect(!tok.addsBosToken)
        print("SmolLM2 tokenizer: \(tok.summary)")
    }

    @Test func chatPromptTokens() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "chatPromptTokens"), let template = tok.chatTemplate else { return }
        let prompt = try template.render([ChatMessage(role: "user", content: "What is 2+2?")], addGenerationPrompt: true)
        let ids = tok.encode(prompt)
        // The tail is the reference case "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n".
        #expect(Array(ids.suffix(16)) == [1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198])
        #expect(ids.first == 1 && tok.decode(ids) == prompt)
    }

    @Test func roundTripsRandomText() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "roundTripsRandomText") else { return }
        var rng = TestRNG(state: 2026)
        for _ in 0..<1000 {
            let text = TokenizerFixtures.randomText(&rng, maxLength: 60)
            let ids = tok.encode(text)
            #expect(tok.decode(ids) == text)
            var decoder = tok.makeStreamingDecoder()
            #expect(ids.map { decoder.push($0) }.joined() + decoder.finish() == text)
        }
    }
}
