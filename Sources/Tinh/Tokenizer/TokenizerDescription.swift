/// Everything a `Tokenizer` is built from, whatever the file: the loaders (tokenizer.json, GGUF)
/// fill one of these and `Tokenizer(description:)` checks and compiles it.
public struct TokenizerDescription: Sendable {
    /// Vocabulary strings as stored (byte-level spelling, or SentencePiece pieces with ▁), by id.
    public var tokens: [String]
    public var merges: MergeSource
    /// GGUF token types per id (see `TokenType`); all `normal` when nil.
    public var tokenTypes: [Int32]?
    public var specialIds: SpecialTokenIds
    public var kind: TokenizerKind
    /// The chat template's source text, if the model has one.
    public var chatTemplate: String?
    /// Llama 3's `ignore_merges`: a word that is itself a token is not merged up from bytes.
    public var ignoreMerges: Bool
    public var addsBosToken: Bool
    public var addsEosToken: Bool
    /// Whitespace an added token swallows on either side (Hugging Face's `lstrip`/`rstrip`).
    public var addedTokenStrip: [Int32: AddedTokenStrip]

    public init(tokens: [String], merges: MergeSource, tokenTypes: [Int32]? = nil,
                specialIds: SpecialTokenIds = SpecialTokenIds(), kind: TokenizerKind = .byteLevel(.gpt2),
                chatTemplate: String? = nil, ignoreMerges: Bool = false, addsBosToken: Bool = false,
                addsEosToken: Bool = false, addedTokenStrip: [Int32: AddedTokenStrip] = [:]) {
        self.tokens = tokens
        self.merges = merges
        self.tokenTypes = tokenTypes
        self.specialIds = specialIds
        self.kind = kind
        self.chatTemplate = chatTemplate
        self.ignoreMerges = ignoreMerges
        self.addsBosToken = addsBosToken
        self.addsEosToken = addsEosToken
        self.addedTokenStrip = addedTokenStrip
    }
}

/// How the vocabulary spells text and cuts it before merging.
public enum TokenizerKind: Sendable, Equatable {
    /// GPT-2 style: every byte spelled as a printable character, words cut by `PreTokenizerKind`.
    /// `nfc`: text is NFC-normalized first (Qwen2's normalizer).
    case byteLevel(PreTokenizerKind, nfc: Bool = false)
    /// SentencePiece style (Llama 2, Mistral, Gemma, Phi-3): spaces are "▁", each piece of text is one
    /// word of Unicode scalars, a scalar missing from the vocabulary becomes its `<0xNN>` byte tokens.
    /// `decodeStripsSpace`: decoding drops one leading space (the prefix the encoder added).
    case sentencePiece(SpacePrefix, decodeStripsSpace: Bool)
}

/// Where a SentencePiece-style encoder puts a "▁" in front of a stretch of text (the text between
/// special tokens). Each matches one of the forms models ship.
public enum SpacePrefix: String, Sendable, Equatable {
    /// Never (Gemma: no dummy prefix).
    case none
    /// Only the stretch at the very start of the input, and only when it does not already start with
    /// a space: Hugging Face's Metaspace with prepend_scheme "first" (Mistral, non-legacy Llama).
    case first
    /// Every stretch that does not already start with a space: Metaspace with prepend_scheme "always".
    case always
    /// Every stretch, unconditionally: the Llama 2 legacy `Prepend("▁")` normalizer (Phi-3, TinyLlama),
    /// and llama.cpp with `tokenizer.ggml.add_space_prefix` (a space before the input and after every
    /// special token), which is also what `sentencepiece` does with its dummy prefix on plain text.
    case everyStretch
}

/// The merge table: Hugging Face's ranked list, or llama.cpp's SentencePiece rule in which any two
/// adjacent symbols whose concatenation is in the vocabulary may merge, best score first.
public enum MergeSource: Sendable {
    /// "left right" pairs by rank (0 merges first).
    case ranked([(String, String)])
    /// A score per token (GGUF `tokenizer.ggml.scores`).
    case scores([Float])
}

/// The whitespace an added token absorbs: on its left (`lstrip`) or right (`rstrip`).
public struct AddedTokenStrip: Sendable, Equatable {
    public var left: Bool
    public var right: Bool

    public init(left: Bool = false, right: Bool = false) {
        self.left = left
        self.right = right
    }
}
