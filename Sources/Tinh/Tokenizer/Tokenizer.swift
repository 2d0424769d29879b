import Foundation

/// A BPE tokenizer of either kind models ship: byte-level (GPT-2 family: SmolLM2, Llama 3, Qwen2)
/// or SentencePiece-style with byte fallback (Llama 2, Mistral, Gemma, Phi-3). Build it from a
/// `TokenizerDescription`, with `Tokenizer.load(tokenizerJSON:)` or `Tokenizer(gguf:)`.
/// Encoding: special tokens are cut out whole, the text between them is normalized and cut into
/// words, and each word is merged by BPE. Thread-safe; words are cached.
public final class Tokenizer: @unchecked Sendable {
    /// Vocabulary strings as stored, indexed by id.
    public let tokens: [String]
    /// GGUF token types per id (see `TokenType`); all `normal` when the source had none.
    public let tokenTypes: [Int32]
    public let specialIds: SpecialTokenIds
    public let kind: TokenizerKind
    /// The chat template's source text as the model ships it, if any.
    public let chatTemplateSource: String?
    /// The template recognized in `chatTemplateSource`; nil if none or not recognized.
    public let chatTemplate: ChatTemplate?
    /// Whether the model expects `specialIds.bos` before plain text. `encode` never adds it;
    /// callers prepend it. Rendered chats already hold what the template writes.
    public let addsBosToken: Bool
    /// Whether the model expects `specialIds.eos` after plain text (`add_eos_token`).
    public let addsEosToken: Bool
    /// Number of distinct merges in use.
    public let mergeCount: Int

    private let vocabulary: [String: Int32]
    /// What each id decodes to.
    private let tokenBytes: [[UInt8]]
    private let merger: BPEMerger
    private let matcher: SpecialTokenMatcher
    private let splitter: PreTokenizer?
    private let ignoreMerges: Bool
    /// SentencePiece: the `<0xNN>` token of each byte (-1 if absent) and the id of "▁".
    private let byteFallback: [Int32]
    private let cache = WordCache()

    public var vocabularySize: Int { tokens.count }

    /// The byte-level pre-tokenizer; nil for SentencePiece-style vocabularies.
    public var preTokenizer: PreTokenizerKind? {
        if case .byteLevel(let p, _) = kind { return p }
        return nil
    }

    /// - Parameters:
    ///   - merges: "left right" pairs; the index is the rank (0 merges first).
    ///   - tokenTypes: GGUF token types; control (3) and user-defined (4) tokens are matched whole.
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

    public convenience init(tokens: [String], mergePairs: [(String, String)], tokenTypes: [Int32]? = nil,
                            specialIds: SpecialTokenIds = SpecialTokenIds(),
                            preTokenizer: PreTokenizerKind = .gpt2, chatTemplate: String? = nil,
                            ignoreMerges: Bool = false, addsBosToken: Bool = false) throws {
        try self.init(TokenizerDescription(tokens: tokens, merges: .ranked(mergePairs), tokenTypes: tokenTypes,
                                           specialIds: specialIds, kind: .byteLevel(preTokenizer),
                                           chatTemplate: chatTemplate, ignoreMerges: ignoreMerges,
                                           addsBosToken: addsBosToken))
    }

    public init(_ d: TokenizerDescription) throws {
        let tokens = d.tokens
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw TinhError.invalidInput("tokenizer: vocabulary has \(tokens.count) tokens")
        }
        if let tokenTypes = d.tokenTypes, tokenTypes.count != tokens.count {
            throw TinhError.invalidInput("tokenizer: \(tokenTypes.count) token types for \(tokens.count) tokens")
        }
        let ids = d.specialIds
        for (name, id) in [("bos", ids.bos), ("eos", ids.eos), ("pad", ids.pad), ("unk", ids.unk)] {
            if let id, id < 0 || Int(id) >= tokens.count {
                throw TinhError.invalidInput("tokenizer: \(name) id \(id) is outside the vocabulary (0..<\(tokens.count))")
            }
        }
        let types = d.tokenTypes ?? [Int32](repeating: TokenType.normal.rawValue, count: tokens.count)

        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() where vocabulary[t] == nil { vocabulary[t] = Int32(id) }

        let merges: [UInt64: UInt64]
        switch d.merges {
        case .ranked(let pairs):
            merges = try MergeTable.ranked(pairs, vocabulary: vocabulary)
        case .scores(let scores):
            guard scores.count == tokens.count else {
                throw TinhError.invalidInput("tokenizer: \(scores.count) scores for \(tokens.count) tokens")
            }
            merges = MergeTable.fromScores(scores, tokens: tokens, types: types, vocabulary: vocabulary)
        }

        let sentencePiece: Bool
        if case .sentencePiece = d.kind { sentencePiece = true } else { sentencePiece = false }
        var byteTokens = [Int32](repeating: -1, count: 256)
        var byteFallback = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            byteTokens[b] = vocabulary[String(ByteLevel.byteToScalar[b])] ?? -1
            byteFallback[b] = vocabulary[SentencePiece.byteToken(UInt8(b))] ?? -1
        }
        if sentencePiece, byteFallback.contains(-1), ids.unk == nil {
            let missing = byteFallback.filter { $0 < 0 }.count
            throw TinhError.invalidInput("tokenizer: \(missing) of the 256 <0xNN> byte tokens are missing and there is no unknown token")
        }

        var specials: [SpecialTokenMatcher.Entry] = []
        var tokenBytes: [[UInt8]] = []
        tokenBytes.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() {
            let type = TokenType(rawValue: types[id])
            if type == .control || type == .userDefined {
                specials.append(.init(bytes: Array(t.utf8), id: Int32(id), isControl: type == .control,
                                      strip: d.addedTokenStrip[Int32(id)] ?? AddedTokenStrip()))
                tokenBytes.append(Array(t.utf8))
            } else if sentencePiece {
                tokenBytes.append(SentencePiece.bytes(ofPiece: t))
            } else {
                tokenBytes.append(ByteLevel.bytes(ofSpelling: t) ?? Array(t.utf8))
            }
        }

        self.tokens = tokens
        self.tokenTypes = types
        self.specialIds = ids
        self.kind = d.kind
        self.chatTemplateSource = d.chatTemplate
        self.chatTemplate = d.chatTemplate.flatMap {
            ChatTemplate(source: $0, bos: ids.bos.map { tokens[Int($0)] }, eos: ids.eos.map { tokens[Int($0)] })
        }
        self.vocabulary = vocabulary
        self.tokenBytes = tokenBytes
        self.merger = BPEMerger(merges: merges, byteTokens: byteTokens, unknown: ids.unk)
        self.matcher = SpecialTokenMatcher(specials)
        if case .byteLevel(let p, _) = d.kind { splitter = PreTokenizer(kind: p) } else { splitter = nil }
        self.ignoreMerges = d.ignoreMerges
        self.byteFallback = byteFallback
        self.addsBosToken = d.addsBosToken && ids.bos != nil
        self.addsEosToken = d.addsEosToken && ids.eos != nil
        self.mergeCount = merges.count
    }

    /// Bytes the vocabulary has no token for: text containing one encodes it as the unknown token
    /// (or drops it), as Hugging Face does, so such text cannot round-trip.
    public var bytesWithoutToken: [UInt8] {
        if case .sentencePiece = kind { return (0...255).filter { byteFallback[$0] < 0 }.map { UInt8($0) } }
        return (0...255).filter { vocabulary[String(ByteLevel.byteToScalar[$0])] == nil }.map { UInt8($0) }
    }

    /// One line for `tinh inspect`.
    public var summary: String {
        let controls = tokenTypes.filter { $0 == TokenType.control.rawValue }.count
        let ids = [("bos", specialIds.bos), ("eos", specialIds.eos), ("pad", specialIds.pad), ("unk", specialIds.unk)]
            .compactMap { name, id in id.map { "\(name)=\($0)" } }.joined(separator: " ")
        let template = chatTemplate?.name ?? (chatTemplateSource == nil ? "none" : "unrecognized")
        let what: String
        switch kind {
        case .byteLevel(let p, let nfc):
            what = "byte-level BPE, \(tokens.count) tokens, \(mergeCount) merges, pre-tokenizer \(p.rawValue)\(nfc ? ", NFC" : "")"
        case .sentencePiece(let prefix, _):
            what = "SentencePiece-style BPE (byte fallback), \(tokens.count) tokens, \(mergeCount) merges, space prefix \(prefix.rawValue)"
        }
        return "\(what), \(controls) control tokens, \(ids.isEmpty ? "no special ids" : ids), add BOS \(addsBosToken), "
            + "add EOS \(addsEosToken), chat template: \(template)"
    }

    // MARK: Lookup

    /// The id of a vocabulary string (as stored, e.g. "Ġthe" or "▁the"), if present.
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

    /// Whether decoding drops one leading space (SentencePiece decoders that undo the prefix).
    public var decodeStripsLeadingSpace: Bool {
        if case .sentencePiece(_, let strip) = kind { return strip }
        return false
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
            for segment in segments {
                switch segment {
                case .token(let id, let range):
                    ids.append(id); lengths.append(Int32(range.count))
                case .text(let range):
                    encodeStretch(buffer, range, ids: &ids, lengths: &lengths)
                }
            }
        }
    }

    /// One stretch of text between special tokens.
    private func encodeStretch(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                               ids: inout [Int32], lengths: inout [Int32]) {
        switch kind {
        case .byteLevel(_, let nfc):
            if nfc, let normalized = NFCStretch(buffer, range) {
                normalized.bytes.withUnsafeBufferPointer { b in
                    var local: [Int32] = []
                    let start = ids.count
                    encodeWords(b, 0..<b.count, ids: &ids, lengths: &local)
                    lengths += normalized.originalLengths(local)
                    assert(lengths.count == start + local.count)
                }
            } else {
                encodeWords(buffer, range, ids: &ids, lengths: &lengths)
            }
        case .sentencePiece(let prefix, _):
            let startsWithSpace = buffer[range.lowerBound] == 0x20 || SentencePiece.startsWithMarker(buffer, range)
            let addPrefix: Bool
            switch prefix {
            case .none: addPrefix = false
            case .first: addPrefix = range.lowerBound == 0 && !startsWithSpace
            case .always: addPrefix = !startsWithSpace
            case .everyStretch: addPrefix = true
            }
            encodeSentencePiece(UnsafeBufferPointer(rebasing: buffer[range]), prefix: addPrefix, &ids, &lengths)
        }
    }

    private func encodeWords(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             ids: inout [Int32], lengths: inout [Int32]) {
        var words: [Range<Int>] = []
        splitter?.split(buffer, range, into: &words)
        for w in words { encodeWord(UnsafeBufferPointer(rebasing: buffer[w]), &ids, &lengths) }
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

    /// A SentencePiece stretch: "▁" for each space (and in front when `prefix`), one symbol per
    /// scalar, `<0xNN>` tokens for a scalar the vocabulary lacks, then the merges.
    private func encodeSentencePiece(_ text: UnsafeBufferPointer<UInt8>, prefix: Bool,
                                     _ ids: inout [Int32], _ lengths: inout [Int32]) {
        let cacheable = text.count <= WordCache.maxWordBytes
        let key = cacheable ? Array(text) + [prefix ? 1 : 0] : []
        if cacheable, let hit = cache[key] {
            ids.append(contentsOf: hit.ids); lengths.append(contentsOf: hit.lengths); return
        }
        var symbols: [Int32] = [], widths: [Int32] = []
        symbols.reserveCapacity(text.count + 1)
        widths.reserveCapacity(text.count + 1)
        func push(_ piece: String, width: Int) {
            if let id = vocabulary[piece] {
                symbols.append(id); widths.append(Int32(width)); return
            }
            var remaining = width
            for b in piece.utf8 {
                let id = byteFallback[Int(b)]
                symbols.append(id >= 0 ? id : specialIds.unk ?? -1)
                widths.append(remaining > 0 ? 1 : 0)
                remaining -= 1
            }
            // A space spelled as three "▁" bytes still covers its one input byte.
            if remaining > 0, !widths.isEmpty { widths[widths.count - 1] += Int32(remaining) }
        }
        if prefix { push(SentencePiece.marker, width: 0) }
        let run = ScalarRun(text, 0..<text.count)
        for i in 0..<run.count {
            let v = run.values[i]
            let piece = v == 0x20 ? SentencePiece.marker : String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}")
            push(piece, width: run.offsets[i + 1] - run.offsets[i])
        }
        let start = ids.count
        merger.merge(symbols: symbols, widths: widths, ids: &ids, lengths: &lengths)
        if cacheable { cache[key] = WordCache.Entry(ids: Array(ids[start...]), lengths: Array(lengths[start...])) }
    }

    // MARK: Decode

    /// The text of `ids`: tokens become their bytes (byte-level spelling undone, or "▁" back to a
    /// space and `<0xNN>` to its byte), invalid UTF-8 becomes U+FFFD; SentencePiece decoders that
    /// undo the space prefix drop one leading space.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        for id in ids where !(skipSpecial && isControl(id)) { out.append(contentsOf: bytes(of: id)) }
        if decodeStripsLeadingSpace, out.first == 0x20 { out.removeFirst() }
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
