/// The tokenizer fields of a GGUF file's metadata, as plain values.
public struct GGUFTokenizerFields: Sendable {
    /// `tokenizer.ggml.model`; only "gpt2" (byte-level BPE) is supported.
    public var model: String
    /// `tokenizer.ggml.pre`, llama.cpp's name for the pre-tokenizer split.
    public var pre: String?
    public var tokens: [String]
    public var merges: [String]
    public var tokenTypes: [Int32]?
    public var specialIds: SpecialTokenIds
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?
    /// `tokenizer.ggml.add_bos_token`.
    public var addBosToken: Bool

    public init(model: String, pre: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?,
                specialIds: SpecialTokenIds, chatTemplate: String?, addBosToken: Bool = false) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.merges = merges
        self.tokenTypes = tokenTypes
        self.specialIds = specialIds
        self.chatTemplate = chatTemplate
        self.addBosToken = addBosToken
    }
}

extension Tokenizer {
    /// Builds the tokenizer a GGUF file describes. `path` only names the file in errors.
    public convenience init(gguf fields: GGUFTokenizerFields, path: String = "GGUF") throws {
        guard fields.model == "gpt2" else {
            throw TinhError.unsupported("\(path): tokenizer.ggml.model \"\(fields.model)\" (only \"gpt2\", byte-level BPE)")
        }
        // No `pre` is what llama.cpp treats as its default, GPT-2's split.
        let kind: PreTokenizerKind
        if let pre = fields.pre {
            guard let known = PreTokenizerKind(ggufName: pre) else {
                throw TinhError.unsupported("\(path): tokenizer.ggml.pre \"\(pre)\"")
            }
            kind = known
        } else {
            kind = .gpt2
        }
        do {
            try self.init(tokens: fields.tokens, merges: fields.merges, tokenTypes: fields.tokenTypes,
                          specialIds: fields.specialIds, preTokenizer: kind, chatTemplate: fields.chatTemplate,
                          addsBosToken: fields.addBosToken)
        } catch let TinhError.invalidInput(reason) {
            throw TinhError.badFile(path: path, reason: reason)
        }
    }
}

extension GGUFTokenizerFields {
    /// Reads the `tokenizer.*` keys of GGUF metadata, checking each one's type.
    public init(metadata: [String: GGUFValue], path: String = "GGUF") throws {
        func fail(_ key: String, _ expected: String) -> TinhError {
            .badFile(path: path, reason: "metadata \(key) is missing or not \(expected)")
        }
        func optionalId(_ key: String) throws -> Int32? {
            guard let value = metadata[key] else { return nil }
            guard let i = value.int, let id = Int32(exactly: i) else { throw fail(key, "a token id") }
            return id
        }
        func optionalString(_ key: String) throws -> String? {
            guard let value = metadata[key] else { return nil }
            guard let s = value.string else { throw fail(key, "a string") }
            return s
        }
        guard let model = try optionalString("tokenizer.ggml.model") else { throw fail("tokenizer.ggml.model", "a string") }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.stringArray else {
            throw fail("tokenizer.ggml.tokens", "an array of strings")
        }
        var merges: [String] = []
        if let value = metadata["tokenizer.ggml.merges"] {
            guard let m = value.stringArray else { throw fail("tokenizer.ggml.merges", "an array of strings") }
            merges = m
        }
        var types: [Int32]?
        if let value = metadata["tokenizer.ggml.token_type"] {
            guard let t = value.int32Array else { throw fail("tokenizer.ggml.token_type", "an array of integers") }
            types = t
        }
        self.init(model: model, pre: try optionalString("tokenizer.ggml.pre"), tokens: tokens, merges: merges,
                  tokenTypes: types,
                  specialIds: SpecialTokenIds(bos: try optionalId("tokenizer.ggml.bos_token_id"),
                                              eos: try optionalId("tokenizer.ggml.eos_token_id"),
                                              pad: try optionalId("tokenizer.ggml.padding_token_id"),
                                              unk: try optionalId("tokenizer.ggml.unknown_token_id")),
                  chatTemplate: try optionalString("tokenizer.chat_template"),
                  addBosToken: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false)
    }
}

extension Tokenizer {
    /// The tokenizer stored in a GGUF file's metadata.
    public convenience init(gguf file: GGUFFile) throws {
        try self.init(gguf: GGUFTokenizerFields(metadata: file.metadata, path: file.path), path: file.path)
    }
}
