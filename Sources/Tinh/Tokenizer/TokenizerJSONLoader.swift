import Foundation

/// Loading a Hugging Face `tokenizer.json` (BPE: byte-level, or SentencePiece-style with
/// byte_fallback) and, beside it, tokenizer_config.json, special_tokens_map.json and
/// chat_template.jinja for the special tokens, add_bos/eos_token and the chat template.
extension Tokenizer {
    /// Loads `tokenizer.json` at `url` with the configuration files in the same directory, if present.
    public static func load(tokenizerJSON url: URL) throws -> Tokenizer {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TinhError.badFile(path: path, reason: "cannot read the file")
        }
        return try Tokenizer(tokenizerJSON: data, config: TokenizerConfig(directory: url.deletingLastPathComponent()), path: path)
    }

    /// Builds from the bytes of `tokenizer.json` (and optionally `tokenizer_config.json`,
    /// `special_tokens_map.json` and a `chat_template.jinja` text). `path` only names the source in errors.
    public convenience init(tokenizerJSON data: Data, tokenizerConfig: Data? = nil, specialTokensMap: Data? = nil,
                            chatTemplateFile: String? = nil, path: String = "tokenizer.json") throws {
        try self.init(tokenizerJSON: data, config: TokenizerConfig(tokenizerConfig: tokenizerConfig, specialTokensMap: specialTokensMap,
                                                                   chatTemplateFile: chatTemplateFile), path: path)
    }

    convenience init(tokenizerJSON data: Data, config: TokenizerConfig, path: String) throws {
        func fail(_ reason: String) -> TinhError { .badFile(path: path, reason: reason) }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("no \"model\" object") }
        if let type = model["type"] as? String, type != "BPE" {
            throw TinhError.unsupported("\(path): tokenizer model \"\(type)\" (only BPE, byte-level or with byte_fallback)")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("no model.vocab object") }
        let byteFallback = model["byte_fallback"] as? Bool == true
        let kind = try TokenizerJSONPipeline.kind(root: root, byteFallback: byteFallback, path: path)

        // Ids -> strings; added tokens may extend past the vocabulary.
        var byId: [Int: String] = [:]
        var types: [Int: TokenType] = [:]
        var strip: [Int32: AddedTokenStrip] = [:]
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0, id < Int(Int32.max) else {
                throw fail("model.vocab[\"\(token)\"] is not a valid id")
            }
            if byId[id] != nil { throw fail("id \(id) appears twice in model.vocab") }
            byId[id] = token
            if byteFallback, SentencePiece.byte(ofToken: token) != nil { types[id] = .byte }
        }
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = (added["id"] as? NSNumber)?.intValue, id >= 0, id < Int(Int32.max),
                  let content = added["content"] as? String else { throw fail("an added token lacks id or content") }
            byId[id] = content
            types[id] = added["special"] as? Bool == true ? .control : .userDefined
            let s = AddedTokenStrip(left: added["lstrip"] as? Bool == true, right: added["rstrip"] as? Bool == true)
            if s.left || s.right { strip[Int32(id)] = s }
        }
        guard let maxId = byId.keys.max(), maxId < 10_000_000 else { throw fail("empty or implausibly large vocabulary") }
        // Holes (rare) get a placeholder no text can produce.
        var tokens = [String](repeating: "", count: maxId + 1)
        var tokenTypes = [Int32](repeating: TokenType.unused.rawValue, count: maxId + 1)
        for (id, token) in byId {
            tokens[id] = token
            tokenTypes[id] = (types[id] ?? .normal).rawValue
        }

        var pairs: [(String, String)] = []
        for (rank, entry) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = entry as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("merge \(rank) \"\(s)\" is not two tokens") }
                pairs.append((String(parts[0]), String(parts[1])))
            } else if let a = entry as? [String], a.count == 2 {
                pairs.append((a[0], a[1]))
            } else {
                throw fail("merge \(rank) is neither \"a b\" nor [a, b]")
            }
        }

        let idOf = Dictionary(byId.map { ($0.value, Int32($0.key)) }, uniquingKeysWith: min)
        var specialIds = SpecialTokenIds(bos: config.bos.flatMap { idOf[$0] }, eos: config.eos.flatMap { idOf[$0] },
                                         pad: config.pad.flatMap { idOf[$0] }, unk: config.unk.flatMap { idOf[$0] })
        if specialIds.unk == nil, let unk = model["unk_token"] as? String { specialIds.unk = idOf[unk] }
        let template = PostProcessorTemplate(root["post_processor"])
        let description = TokenizerDescription(
            tokens: tokens, merges: .ranked(pairs), tokenTypes: tokenTypes, specialIds: specialIds, kind: kind,
            chatTemplate: config.chatTemplate, ignoreMerges: model["ignore_merges"] as? Bool ?? false,
            addsBosToken: config.addBosToken ?? template.starts(with: specialIds.bos.map { tokens[Int($0)] }),
            addsEosToken: config.addEosToken ?? template.ends(with: specialIds.eos.map { tokens[Int($0)] }),
            addedTokenStrip: strip)
        do {
            try self.init(description)
        } catch let TinhError.invalidInput(reason) {
            throw fail(reason)
        }
    }
}

/// The special tokens a `TemplateProcessing` post-processor puts around a single text (Llama 3
/// states its BOS only there).
private struct PostProcessorTemplate {
    private var first: String?
    private var last: String?

    init(_ value: Any?) {
        guard let object = value as? [String: Any] else { return }
        let steps = object["type"] as? String == "Sequence" ? (object["processors"] as? [[String: Any]] ?? []) : [object]
        for step in steps where step["type"] as? String == "TemplateProcessing" {
            let single = step["single"] as? [[String: Any]] ?? []
            func special(_ item: [String: Any]?) -> String? { (item?["SpecialToken"] as? [String: Any])?["id"] as? String }
            first = special(single.first)
            last = single.count > 1 ? special(single.last) : nil
        }
    }

    func starts(with bos: String?) -> Bool { bos != nil && first == bos }
    func ends(with eos: String?) -> Bool { eos != nil && last == eos }
}
