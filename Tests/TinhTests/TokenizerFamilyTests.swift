import Foundation
import Testing
@testable import Tinh

/// Every family fixture's tokenizer, read from tokenizer.json and from the GGUF, against what the
/// `tokenizers` library (tokenizer_cases) and `sentencepiece` (sentencepiece_cases) gave on the same
/// text set (Vietnamese, CJK, emoji, code, runs of spaces and digits); built by make_family_fixtures.py.
@Suite struct TokenizerFamilyTests {
    static let sentencePieceFamilies = ["mistral", "gemma2", "gemma3", "phi3"]

    struct Case {
        let text: String
        let ids: [Int32]
        let decoded: String?
        let sameAsTokenizerJSON: Bool
    }

    static func cases(_ family: String, _ key: String) throws -> [Case] {
        let list = try FamilyFixture.reference(family)[key] as? [[String: Any]] ?? []
        return list.map { c in
            Case(text: c["text"] as? String ?? "", ids: (c["ids"] as? [Int] ?? []).map(Int32.init),
                 decoded: c["decoded"] as? String, sameAsTokenizerJSON: c["tokenizer_json_equal"] as? Bool ?? true)
        }
    }

    static func jsonTokenizer(_ family: String) throws -> Tokenizer {
        try Tokenizer.load(tokenizerJSON: FamilyFixture.directory(family).appendingPathComponent("tokenizer.json"))
    }

    static func ggufTokenizer(_ family: String) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile(path: FamilyFixture.directory(family).appendingPathComponent("model.gguf").path))
    }

    @Test("tokenizer.json gives the tokenizers library's ids and decoded text", arguments: FamilyFixture.families)
    func tokenizerJSONMatchesTokenizers(_ family: String) throws {
        let tok = try Self.jsonTokenizer(family)
        let cases = try Self.cases(family, "tokenizer_cases")
        #expect(cases.count >= 19)
        for c in cases {
            let ids = tok.encode(c.text)
            #expect(ids == c.ids, "\(family): \(c.text.debugDescription)")
            #expect(tok.decode(c.ids) == c.decoded, "\(family): decode of \(c.text.debugDescription)")
            if c.decoded == c.text { #expect(tok.decode(ids) == c.text, "\(family): round trip of \(c.text.debugDescription)") }
            // Offsets cover the input exactly, token after token.
            let spans = tok.encodeWithOffsets(c.text)
            #expect(spans.map(\.id) == ids && (spans.last?.bytes.upperBound ?? 0) == c.text.utf8.count, "\(family): offsets")
        }
        let special = try FamilyFixture.reference(family)["tokenizer"] as? [String: Any]
        let withSpecial = special?["encode_with_special_tokens"] as? [String: Any]
        let text = withSpecial?["text"] as? String ?? ""
        let expected = (withSpecial?["ids_with_special_tokens"] as? [Int] ?? []).map(Int32.init)
        let bos = tok.addsBosToken ? [tok.specialIds.bos!] : []
        let eos = tok.addsEosToken ? [tok.specialIds.eos!] : []
        #expect(bos + tok.encode(text) + eos == expected, "\(family): add_bos_token / add_eos_token")
        #expect(tok.specialIds.eos.flatMap(tok.token) == special?["eos"] as? String, "\(family): eos")
        #expect(tok.specialIds.bos.flatMap(tok.token) == special?["bos"] as? String, "\(family): bos")
    }

    @Test("SentencePiece families: tokenizer.json equals sentencepiece wherever the fixture says tokenizers does",
          arguments: sentencePieceFamilies)
    func tokenizerJSONMatchesSentencePiece(_ family: String) throws {
        let tok = try Self.jsonTokenizer(family)
        for c in try Self.cases(family, "sentencepiece_cases") where c.sameAsTokenizerJSON {
            #expect(tok.encode(c.text) == c.ids, "\(family): \(c.text.debugDescription)")
        }
    }

    /// GGUF: byte-level vocabularies against tokenizers on every case; SentencePiece ones (llama.cpp's
    /// rule: merges by score, a space prefix before the text) against sentencepiece on the text set.
    @Test("the GGUF's tokenizer gives the reference ids", arguments: FamilyFixture.families)
    func ggufMatchesReference(_ family: String) throws {
        let tok = try Self.ggufTokenizer(family)
        let json = try Self.jsonTokenizer(family)
        #expect(tok.specialIds.bos == json.specialIds.bos && tok.specialIds.eos == json.specialIds.eos, "\(family)")
        #expect(tok.addsBosToken == json.addsBosToken, "\(family)")
        let key = Self.sentencePieceFamilies.contains(family) ? "sentencepiece_cases" : "tokenizer_cases"
        for c in try Self.cases(family, key) {
            let ids = tok.encode(c.text)
            #expect(ids == c.ids, "\(family) GGUF: \(c.text.debugDescription)")
            if c.decoded == c.text { #expect(tok.decode(ids) == c.text, "\(family) GGUF: round trip of \(c.text.debugDescription)") }
        }
    }

    @Test("streaming decode equals decode for SentencePiece vocabularies", arguments: sentencePieceFamilies)
    func streamingDecode(_ family: String) throws {
        let tok = try Self.jsonTokenizer(family)
        for c in try Self.cases(family, "tokenizer_cases") {
            var stream = tok.makeStreamingDecoder()
            let streamed = c.ids.map { stream.push($0) }.joined() + stream.finish()
            #expect(streamed == tok.decode(c.ids), "\(family): \(c.text.debugDescription)")
        }
    }
}
