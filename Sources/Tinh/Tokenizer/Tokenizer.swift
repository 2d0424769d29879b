import Foundation

/// A byte-level BPE tokenizer (GPT-2 family: SmolLM2, Llama 3, Qwen2 ...). Build it from plain
/// arrays, or with `Tokenizer.load(tokenizerJSON:)` / `Tokenizer(ggufMetadata:)`.
/// Encoding: special tokens are cut out whole, the text between them is pre-tokenized into words,
/// and each word's bytes are merged by BPE. Thread-safe; words are cached.
public final class Tokenizer: @unchecked Sendable {
    /// Vocabulary strings as stored (byte-level spelling for normal tokens), indexed by id.
    public let tokens: [String]
    /// GGUF token types per id (see `TokenType`); all `normal` when the source had none.
    public let tokenTypes: [Int32]
    public let specialIds: SpecialTokenIds
    public let preTokenizer: PreTokenizerKind
    /// The chat template's source text as the model ships it, if any.
    public let chatTemplateSource: String?
    /// The template style recognized in `chatTemplateSource`; nil if none or not recognized.
    public let chatTemplate: ChatTemplate?
    /// Whether the model expects `specialIds.bos` before plain text (GGUF `add_bos_token`).
    /// `encode` never adds it; callers prepend it. Rendered chats already hold what the template writes.
    public let addsBosToken: Bool
    /// Number of distinct merges in use.
    public let mergeCount: Int

    private let vocabulary: [String: Int32]
    /// What each id decodes to.
    private let tokenBytes: [[UInt8]]
    private let merger: BPEMerger
    private let matcher: SpecialTokenMatcher
    private let splitter: PreTokenizer
    /// Llama 3's `ignore_merges`: a word that is itself a token is not merged up from bytes.
    private let ignoreMerges: Bool
    private let cache = WordCache()

    public var vocabularySize: Int { tokens.count }

    /// - Parameters:
    ///   - merges: "left right" pairs; the index is the rank (0 merges first).
    ///   - tokenTypes: GGUF token types; control (3) and user-defined (4) tokens are matched whole.
    ///   - addedTokens: extra ids to match whole: `special` ones act as control tokens.
    public convenience init(tokens: [String], merges: [String], tokenTypes: [Int32]? = nil,
                            specialIds: SpecialTokenIds = SpecialTokenIds(),
                            preTokenizer: PreTokenizerKind = .gpt2, chatTemplate: String? = nil,
                            ignoreMerges: Bool = false, addsBosToken: Bool = false) throws {
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TinhError.invalidInput("tokenizer: merge \(rank) \"\(m)\" is not two tokens separated by one space")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        try self.init(tokens: tokens, mergePairs: pairs, tokenTypes: tokenTypes, specialIds: specialIds,
                      preTokenizer: preTokenizer, chatTemplate: chatTemplate, ignoreMerges: ignoreMerges,
                      addsBosToken: addsBosToken)
    }

    public init(tokens: [String], mergePairs: [(String, String)], tokenTypes: [Int32]? = nil,
                specialIds: SpecialTokenIds = SpecialTokenIds(),
                preTokenizer: PreTokenizerKind = .gpt2, chatTemplate: String? = nil,
                ignoreMerges: Bool = false, addsBosToken: Bool = false) throws {
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw TinhError.invalidInput("tokenizer: vocabulary has \(tokens.count) tokens")
        }
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw TinhError.invalidInput("tokenizer: \(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        for (name, id) in [("bos", specialIds.bos), ("eos", specialIds.eos), ("pad", specialIds.pad), ("unk", specialIds.unk)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TinhError.invalidInput("tokenizer: \(name) id \(id) is outside the vocabulary (0..<\(tokens.count))")
            }
        }
        let types = tokenTypes ?? [Int32](repeating: TokenType.normal.rawValue, count: tokens.count)

        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() where vocabulary[t] == nil { vocabulary[t] = Int32(id) }

        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergePairs.count)
        for (rank, (a, b)) in mergePairs.enumerated() {
            guard let left = vocabulary[a], let right = vocabulary[b], let merged = vocabulary[a + b] else {
                throw TinhError.invalidInput("tokenizer: merge \(rank) \"\(a) \(b)\" names a token not in the vocabulary")
            }
            let key = BPEMerger.pairKey(left, right)
            if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(UInt32(merged)) }
        }

        var byteTokens = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            byteTokens[b] = vocabulary[String(ByteLevel.byteToScalar[b])] ?? -1
        }

        var specials: [SpecialTokenMatcher.Entry] = []
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() {
            let type = TokenType(rawValue: types[id])
            if type == .control || type == .userDefined {
                specials.append(.init(bytes: Array(t.utf8), id: Int32(id), isControl: type == .control))
                tokenBytes.append(Array(t.utf8))
            } else {
                tokenBytes.append(ByteLevel.bytes(ofSpelling: t) ?? Array(t.utf8))
            }
        }

        self.tokens = tokens
        self.tokenTypes = types
        self.specialIds = specialIds
        self.preTokenizer = preTokenizer
        self.chatTemplateSource = chatTemplate
        self.chatTemplate = chatTemplate.flatMap(ChatTemplate.init(source:))
        self.vocabulary = vocabulary
        self.tokenBytes = tokenBytes
        self.merger = BPEMerger(merges: merges, byteTokens: byteTokens, unknown: specialIds.unk)
        self.matcher = SpecialTokenMatcher(specials)
        self.splitter = PreTokenizer(kind: preTokenizer)
        self.ignoreMerges = ignoreMerges
        self.addsBosToken = addsBosToken && specialIds.bos != nil
        self.mergeCount = merges.count
    }

    /// Bytes the vocabulary has no byte-level token for: text containing one encodes it as the
    /// unknown token (or drops it), as Hugging Face does, so such text cannot round-trip.
    public var bytesWithoutToken: [UInt8] {
        (0...255).filter { vocabulary[String(ByteLevel.byteToScalar[$0])] == nil }.map { UInt8($0) }
    }

    /// One line for `tinh inspect`.
    public var summary: String {
        let controls = tokenTypes.filter { $0 == TokenType.control.rawValue }.count
        let ids = [("bos", specialIds.bos), ("eos", specialIds.eos), ("pad", specialIds.pad), ("unk", specialIds.unk)]
            .compactMap { name, id in id.map { "\(name)=\($0)" } }.joined(separator: " ")
        let template: String
        switch chatTemplate?.style {
        case .chatML(let system)?: template = system == nil ? "ChatML" : "ChatML with default system prompt"
        case .llama3?: template = "Llama 3"
        case nil: template = chatTemplateSource == nil ? "none" : "unrecognized"
        }
        return "byte-level BPE, \(tokens.count) tokens, \(mergeCount) merges, pre-tokenizer \(preTokenizer.rawValue), "
            + "\(controls) control tokens, \(ids.isEmpty ? "no special ids" : ids), add BOS \(addsBosToken), chat template: \(template)"
    }

    // MARK: Lookup

    /// The id of a vocabulary string (as stored, e.g. "Ġthe"), if present.
    public func id(ofToken token: String) -> Int32? { vocabulary[token] }

    /// The vocabulary string of an id, if in range.
    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }

    /// True for control tokens (`<|im_end|>`, `<|endoftext|>` ...), which `skipSpecial` drops.
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < tokenTypes.count && tokenTypes[Int(id)] == TokenType.control.rawValue
    }

    /// The bytes one token decodes to; U+FFFD for an id outside the vocabulary.
    public func bytes(of id: Int32) -> [UInt8] {
        id >= 0 && Int(id) < tokenBytes.count ? tokenBytes[Int(id)] : [0xEF, 0xBF, 0xBD]
    }

    // MARK: Encode

    /// Token ids of `text`. With `parseSpecial` false, control tokens' text is tokenized as plain
    /// text (user-defined added tokens are still matched whole). No BOS is added.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        var ids: [Int32] = [], lengths: [Int32] = []
        encode(text, parseSpecial: parseSpecial, ids: &ids, lengths: &lengths)
        return ids
    }

    /// Like `encode`, with the UTF-8 byte range of the input each token covers.
    public func encodeWithOffsets(_ text: String, parseSpecial: Bool = true) -> [TokenSpan] {
        var ids: [Int32] = [], lengths: [Int32] = []
        encode(text, parseSpecial: parseSpecial, ids: &ids, lengths: &lengths)
        var spans: [TokenSpan] = []
        spans.reserveCapacity(ids.count)
        var offset = 0
        for (id, length) in zip(ids, lengths) {
            spans.append(TokenSpan(id: id, bytes: offset..<(offset + Int(length))))
            offset += Int(length)
        }
        return spans
    }

    private func encode(_ text: String, parseSpecial: Bool, ids: inout [Int32], lengths: inout [Int32]) {
        let utf8 = Array(text.utf8)
        ids.reserveCapacity(utf8.count / 3)
        utf8.withUnsafeBufferPointer { buffer in
            let segments = matcher.isEmpty ? [.text(0..<buffer.count)]
                : matcher.split(buffer, includeControl: parseSpecial)
            var words: [Range<Int>] = []
            for segment in segments {
                switch segment {
                case .token(let id, let range):
                    ids.append(id); lengths.append(Int32(range.count))
                case .text(let range):
                    words.removeAll(keepingCapacity: true)
                    splitter.split(buffer, range, into: &words)
                    for w in words { encodeWord(UnsafeBufferPointer(rebasing: buffer[w]), &ids, &lengths) }
                }
            }
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, _ ids: inout [Int32], _ lengths: inout [Int32]) {
        if ignoreMerges, let id = vocabulary[ByteLevel.spell(word)] {
            ids.append(id); lengths.append(Int32(word.count)); return
        }
        let cacheable = word.count <= WordCache.maxWordBytes
        let key = cacheable ? Array(word) : []
        if cacheable, let hit = cache[key] {
            ids.append(contentsOf: hit.ids); lengths.append(contentsOf: hit.lengths); return
        }
        let start = ids.count
        merger.encode(word, ids: &ids, lengths: &lengths)
        if cacheable { cache[key] = WordCache.Entry(ids: Array(ids[start...]), lengths: Array(lengths[start...])) }
    }

    // MARK: Decode

    /// The text of `ids`: byte-level tokens become their bytes, invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        for id in ids where !(skipSpecial && isControl(id)) { out.append(contentsOf: bytes(of: id)) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A decoder for generation that emits text only once its UTF-8 is complete.
    public func makeStreamingDecoder(skipSpecial: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecial: skipSpecial)
    }
}

/// Encodings of recently seen words, shared across threads. Bounded: cleared when full.
private final class WordCache: @unchecked Sendable {
    struct Entry { let ids: [Int32]; let lengths: [Int32] }
    static let maxWordBytes = 128
    static let maxEntries = 1 << 17
    private var entries: [[UInt8]: Entry] = [:]
    private let lock = NSLock()

    subscript(key: [UInt8]) -> Entry? {
        get { lock.lock(); defer { lock.unlock() }; return entries[key] }
        set {
            lock.lock(); defer { lock.unlock() }
            if entries.count >= WordCache.maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = newValue
        }
    }
}
