import Foundation
import Testing
@testable import Tinh

/// The files beside tokenizer.json (transformers 5's chat_template.jinja, a config without
/// special_tokens_map.json or the reverse), NFC input offsets, and the pipelines Tinh refuses.
@Suite struct TokenizerConfigFilesTests {
    /// A copy of a family's tokenizer files with `edit` applied to tokenizer_config.json.
    static func copy(_ family: String, dropping: [String] = [], edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let fm = FileManager.default
        let from = try FamilyFixture.directory(family)
        let to = fm.temporaryDirectory.appendingPathComponent("tinh-tok-\(UUID().uuidString)", isDirectory: true)
        try fm.createDirectory(at: to, withIntermediateDirectories: true)
        for name in ["tokenizer.json", "special_tokens_map.json"] where !dropping.contains(name) {
            try fm.copyItem(at: from.appendingPathComponent(name), to: to.appendingPathComponent(name))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: from.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: to.appendingPathComponent("tokenizer_config.json"))
        return to
    }

    @Test func chatTemplateJinjaBesideTheConfig() throws {
        let source = try #require(TokenizerFamilyTests.jsonTokenizer("gemma3").chatTemplateSource)
        let dir = try Self.copy("gemma3", dropping: ["special_tokens_map.json"]) { $0["chat_template"] = nil }
        defer { try? FileManager.default.removeItem(at: dir) }
        try source.write(to: dir.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let tok = try Tokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        #expect(tok.chatTemplate?.style == .gemma(systemInFirstTurn: true))
        #expect(tok.specialIds.bos.flatMap(tok.token) == "<bos>" && tok.addsBosToken)
    }

    @Test func specialTokensFromTheMapWhenTheConfigHasNone() throws {
        let dir = try Self.copy("mistral") { c in
            for key in ["bos_token", "eos_token", "unk_token", "add_bos_token"] { c[key] = nil }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = try Tokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"))
        #expect(tok.specialIds.eos.flatMap(tok.token) == "</s>")
        // add_bos_token absent: the post-processor's template says BOS.
        #expect(tok.specialIds.bos.flatMap(tok.token) == "<s>" && tok.addsBosToken)
        #expect(tok.chatTemplate?.style == .mistral)
    }

    @Test func nfcInputEncodesAsComposedWithOffsetsIntoTheInput() throws {
        let tok = try TokenizerFamilyTests.jsonTokenizer("qwen2")
        let decomposed = "Tie\u{302}\u{301}ng Vie\u{323}\u{302}t 한국"
        let composed = decomposed.precomposedStringWithCanonicalMapping
        #expect(!decomposed.utf8.elementsEqual(composed.utf8))
        #expect(tok.encode(decomposed) == tok.encode(composed))
        let spans = tok.encodeWithOffsets(decomposed)
        #expect(spans.last?.bytes.upperBound == decomposed.utf8.count)
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.bytes.upperBound == $1.bytes.lowerBound })
    }

    @Test func refusedPipelinesNameWhatIsSupported() throws {
        let data = try Data(contentsOf: FamilyFixture.directory("mistral").appendingPathComponent("tokenizer.json"))
        var root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        root["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first", "split": true]
        let edited = try JSONSerialization.data(withJSONObject: root)
        #expect(throws: TinhError.self) { try Tokenizer(tokenizerJSON: edited) }
        let gguf = try GGUFFile(path: FamilyFixture.directory("qwen2").appendingPathComponent("model.gguf").path)
        var fields = try GGUFTokenizerFields(metadata: gguf.metadata)
        fields.pre = "mystery-pre"
        do {
            _ = try Tokenizer(gguf: fields)
            Issue.record("an unknown tokenizer.ggml.pre must be an error")
        } catch {
            #expect("\(error)".contains("mystery-pre") && "\(error)".contains("qwen2"))
        }
    }
}
