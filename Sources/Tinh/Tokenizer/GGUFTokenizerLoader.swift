/// The tokenizer fields of a GGUF file's metadata, as plain values.
public struct GGUFTokenizerFields: Sendable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE).
    public var model: String
    /// `tokenizer.ggml.pre`, llama.cpp's name for the pre-tokenizer split (byte-level only).
    public var pre: String?
    public var tokens: [String]
    public var merges: [String]
    /// `tokenizer.ggml.scores` (SentencePiece: what merges first).
    public var scores: [Float]?
    public var tokenTypes: [Int32]?
    public var specialIds: SpecialTokenIds
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?
    /// `tokenizer.ggml.add_bos_token`.
    public var addBosToken: Bool
    /// `tokenizer.ggml.add_eos_token`.
    public var addEosToken: Bool
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece; llama.cpp's default is true).
    public var addSpacePrefix: Bool
    /// `general.name`: llama.cpp gives Phi-3's special tokens rstrip by this name.
    public var modelName: String?

    public init(model: String, pre: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?,
                specialIds: SpecialTokenIds, chatTemplate: String?, addBosToken: Bool = false,
                scores: [Float]? = nil, addEosToken: Bool = false, addSpacePrefix: Bool = true, modelName: String? = nil) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.merges = merges
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.specialIds = specialIds
        self.chatTemplate = chatTemplate
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.addSpacePrefix = addSpacePrefix
        self.modelName = modelName
    }
}

extension Tokenizer {
    /// Builds the tokenizer a GGUF file describes. `path` only names the file in errors.
    public convenience init(gguf fields: GGUFTokenizerFields, path: String = "GGUF") throws {
        let description: TokenizerDescription
        switch fields.model {
        case "gpt2":
            description = try Tokenizer.byteLevelDescription(fields, path: path)
        case "llama":
            description = try Tokenizer.sentencePieceDescription(fields, path: path)
        default:
            throw TinhError.unsupported("\(path): tokenizer.ggml.model \"\(fields.model)\" (supported: \"gpt2\", byte-level BPE; "
                + "\"llama\", SentencePiece-style BPE)")
        }
        do {
            try self.init(description)
        } catch let TinhError.invalidInput(reason) {
            throw TinhError.badFile(path: path, reason: reason)
        }
    }

    private static func byteLevelDescription(_ fields: GGUFTokenizerFields, path: String) throws -> TokenizerDescription {
        // No `pre` is what llama.cpp treats as its default, GPT-2's split.
        var kind = PreTokenizerKind.gpt2
        if let pre = fields.pre {
            guard let known = PreTokenizerKind(ggufName: pre) else {
                throw TinhError.unsupported("\(path): tokenizer.ggml.pre \"\(pre)\" (supported: "
                    + "\(PreTokenizerKind.ggufNames.joined(separator: ", ")))")
            }
            kind = known
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(fields.merges.count)
        for (rank, m) in fields.merges.enumerated() {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TinhError.badFile(path: path, reason: "tokenizer.ggml.merges[\(rank)] \"\(m)\" is not two tokens separated by one space")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        return TokenizerDescription(tokens: fields.tokens, merges: .ranked(pairs), tokenTypes: fields.tokenTypes,
                                    specialIds: fields.specialIds, kind: .byteLevel(kind), chatTemplate: fields.chatTemplate,
                                    addsBosToken: fields.addBosToken, addsEosToken: fields.addEosToken)
    }

    /// llama.cpp's SPM vocabulary: merges from scores, `<0xNN>` byte tokens, and with
    /// add_space_prefix a space before the input and after every special token.
    private static func sentencePieceDescription(_ fields: GGUFTokenizerFields, path: String) throws -> TokenizerDescription {
        guard let scores = fields.scores else {
            throw TinhError.badFile(path: path, reason: "tokenizer.ggml.model is \"llama\" but tokenizer.ggml.scores is missing")
        }
        if let pre = fields.pre, pre != "default" {
            throw TinhError.unsupported("\(path): tokenizer.ggml.pre \"\(pre)\" with tokenizer.ggml.model \"llama\" (only \"default\")")
        }
        var strip: [Int32: AddedTokenStrip] = [:]
        let name = fields.modelName?.lowercased() ?? ""
        if name.contains("phi3") || name.contains("phi-3"), let types = fields.tokenTypes {
            // As llama.cpp: Phi-3's special tokens swallow the whitespace after them, except these.
            for (id, t) in types.enumerated() where t == TokenType.control.rawValue || t == TokenType.userDefined.rawValue {
                if !["<unk>", "<s>", "<|endoftext|>"].contains(fields.tokens[id]) { strip[Int32(id)] = AddedTokenStrip(right: true) }
            }
        }
        return TokenizerDescription(tokens: fields.tokens, merges: .scores(scores), tokenTypes: fields.tokenTypes,
                                    specialIds: fields.specialIds,
                                    kind: .sentencePiece(fields.addSpacePrefix ? .everyStretch : .none,
                                                         decodeStripsSpace: fields.addSpacePrefix),
                                    chatTemplate: fields.chatTemplate, addsBosToken: fields.addBosToken,
                                    addsEosToken: fields.addEosToken, addedTokenStrip: strip)
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
        func optionalBool(_ key: String) throws -> Bool? {
            guard let value = metadata[key] else { return nil }
            guard let b = value.bool else { throw fail(key, "a bool") }
            return b
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
        var scores: [Float]?
        if let value = metadata["tokenizer.ggml.scores"] {
            guard let s = value.floatArray else { throw fail("tokenizer.ggml.scores", "an array of floats") }
            scores = s
        }
        self.init(model: model, pre: try optionalString("tokenizer.ggml.pre"), tokens: tokens, merges: merges,
                  tokenTypes: types,
                  specialIds: SpecialTokenIds(bos: try optionalId("tokenizer.ggml.bos_token_id"),
                                              eos: try optionalId("tokenizer.ggml.eos_token_id"),
                                              pad: try optionalId("tokenizer.ggml.padding_token_id"),
                                              unk: try optionalId("tokenizer.ggml.unknown_token_id")),
                  chatTemplate: try optionalString("tokenizer.chat_template"),
                  addBosToken: try optionalBool("tokenizer.ggml.add_bos_token") ?? false,
                  scores: scores, addEosToken: try optionalBool("tokenizer.ggml.add_eos_token") ?? false,
                  addSpacePrefix: try optionalBool("tokenizer.ggml.add_space_prefix") ?? true,
                  modelName: metadata["general.name"]?.string)
    }
}

extension Tokenizer {
    /// The tokenizer stored in a GGUF file's metadata.
    public convenience init(gguf file: GGUFFile) throws {
        try self.init(gguf: GGUFTokenizerFields(metadata: file.metadata, path: file.path), path: file.path)
    }
}
