import Foundation
import Testing
@testable import Tinh

struct TokenizerLoaderTests {
    /// A tiny tokenizer.json: byte tokens plus "he", "llo", "hello", one added special token.
    static func tokenizerJSON(merges: Any, preTokenizer: Any? = nil, normalizer: Any? = nil,
                              postProcessor: Any? = nil) throws -> Data {
        var vocab: [String: Int] = [:]
        for b in 0..<256 { vocab[String(ByteLevel.byteToScalar[b])] = b }
        vocab["he"] = 256; vocab["ll"] = 257; vocab["llo"] = 258; vocab["hello"] = 259
        let root: [String: Any] = [
            "added_tokens": [["id": 260, "content": "<|im_end|>", "special": true],
                             ["id": 261, "content": "<note>", "special": false]],
            "normalizer": normalizer ?? NSNull(),
            "pre_tokenizer": preTokenizer ?? ["type": "Sequence", "pretokenizers": [
                ["type": "Digits", "individual_digits": true],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]]],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
            "post_processor": postProcessor ?? NSNull(),
        ]
        return try JSONSerialization.data(withJSONObject: root)
    }

    @Test func loadsBothMergeSpellings() throws {
        for merges: Any in [["h e", "l l", "ll o", "he llo"], [["h", "e"], ["l", "l"], ["ll", "o"], ["he", "llo"]]] {
            let config = try JSONSerialization.data(withJSONObject: ["eos_token": "<|im_end|>", "chat_template": "<|im_start|>"])
            let tok = try Tokenizer(tokenizerJSON: try Self.tokenizerJSON(merges: merges), tokenizerConfig: config)
            #expect(tok.encode("hello<|im_end|><note>") == [259, 260, 261])
            #expect(tok.preTokenizer == .gpt2IndividualDigits)
            #expect(tok.specialIds.eos == 260)
            #expect(tok.isControl(260) && !tok.isControl(261))
            #expect(tok.chatTemplate?.style == .chatML(defaultSystemPrompt: nil))
        }
    }

    /// Llama 3 states its BOS only in the post-processor template.
    @Test func bosFromPostProcessor() throws {
        let config = try JSONSerialization.data(withJSONObject: ["bos_token": "<|im_end|>"])
        let post: [String: Any] = ["type": "TemplateProcessing",
                                   "single": [["SpecialToken": ["id": "<|im_end|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]]]
        let with = try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String](), postProcessor: post), tokenizerConfig: config)
        let without = try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String]()), tokenizerConfig: config)
        #expect(with.addsBosToken && !without.addsBosToken)
    }

    @Test func recognizesPreTokenizers() throws {
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]
        #expect(try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String](), preTokenizer: byteLevel)).preTokenizer == .gpt2)
        let llama3: [String: Any] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#],
             "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]]
        #expect(try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String](), preTokenizer: llama3)).preTokenizer == .llama3)
    }

    @Test func rejectsWhatItCannotDo() throws {
        #expect(throws: TinhError.self) { try Tokenizer(tokenizerJSON: Data("[1,2]".utf8)) }
        #expect(throws: TinhError.self) { try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: ["h e x"])) }
        #expect(throws: TinhError.self) { try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: ["q z"])) }
        #expect(throws: TinhError.self) {
            try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String](), normalizer: ["type": "NFKC"]))
        }
        #expect(throws: TinhError.self) {
            try Tokenizer(tokenizerJSON: Self.tokenizerJSON(merges: [String](), preTokenizer: ["type": "Whitespace"]))
        }
    }

    static func ggufMetadata(model: String = "gpt2", pre: String? = "smollm") -> [String: GGUFValue] {
        let tokens = ["<|endoftext|>"] + (0..<256).map { String(ByteLevel.byteToScalar[$0]) } + ["he"]
        var meta: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string(model),
            "tokenizer.ggml.tokens": .array(.string, tokens.map { .string($0) }),
            "tokenizer.ggml.merges": .array(.string, [.string("h e")]),
            "tokenizer.ggml.token_type": .array(.int32, [.int32(3)] + [GGUFValue](repeating: .int32(1), count: 257)),
            "tokenizer.ggml.eos_token_id": .uint32(0),
            "tokenizer.chat_template": .string(TokenizerChatTests.smolTemplateSource),
        ]
        if let pre { meta["tokenizer.ggml.pre"] = .string(pre) }
        return meta
    }

    @Test func loadsGGUFMetadata() throws {
        let tok = try Tokenizer(gguf: GGUFTokenizerFields(metadata: Self.ggufMetadata()))
        #expect(tok.encode("he<|endoftext|>") == [257, 0])
        #expect(tok.specialIds == SpecialTokenIds(eos: 0))
        #expect(tok.preTokenizer == .gpt2IndividualDigits)
        #expect(tok.chatTemplate == .smolLM2)
        #expect(try Tokenizer(gguf: GGUFTokenizerFields(metadata: Self.ggufMetadata(pre: nil))).preTokenizer == .gpt2)
        #expect(!tok.addsBosToken)
        var meta = Self.ggufMetadata()
        meta["tokenizer.ggml.add_bos_token"] = .bool(true)
        meta["tokenizer.ggml.bos_token_id"] = .uint32(0)
        #expect(try Tokenizer(gguf: GGUFTokenizerFields(metadata: meta)).addsBosToken)
    }

    @Test func rejectsBadGGUFMetadata() throws {
        #expect(throws: TinhError.self) { try Tokenizer(gguf: GGUFTokenizerFields(metadata: Self.ggufMetadata(model: "llama"))) }
        #expect(throws: TinhError.self) { try Tokenizer(gguf: GGUFTokenizerFields(metadata: Self.ggufMetadata(pre: "mystery"))) }
        var meta = Self.ggufMetadata()
        meta["tokenizer.ggml.tokens"] = .array(.int32, [.int32(1)])
        #expect(throws: TinhError.self) { try GGUFTokenizerFields(metadata: meta) }
        meta = Self.ggufMetadata()
        meta["tokenizer.ggml.bos_token_id"] = .int64(1 << 40)
        #expect(throws: TinhError.self) { try GGUFTokenizerFields(metadata: meta) }
        meta = Self.ggufMetadata()
        meta["tokenizer.ggml.token_type"] = .array(.int32, [.int32(1)])
        #expect(throws: TinhError.self) { try Tokenizer(gguf: GGUFTokenizerFields(metadata: meta)) }
    }
}
