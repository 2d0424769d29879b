import Foundation

/// Loading a Hugging Face `tokenizer.json` (BPE model, byte-level pre-tokenizer) and, beside it,
/// `tokenizer_config.json` for the chat template and the bos/eos/pad tokens.
extension Tokenizer {
    /// Loads `tokenizer.json` at `url`; reads `tokenizer_config.json` from the same directory if present.
    public static func load(tokenizerJSON url: URL) throws -> Tokenizer {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TinhError.badFile(path: path, reason: "cannot read the file")
        }
        let configURL = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.contents(atPath: configURL.path)
        return try Tokenizer(tokenizerJSON: data, tokenizerConfig: config, path: path)
    }

    /// Builds from the bytes of `tokenizer.json` (and optionally `tokenizer_config.json`).
    /// `path` only names the source in errors.
    public convenience init(tokenizerJSON data: Data, tokenizerConfig: Data? = nil,
                            path: String = "tokenizer.json") throws {
        func fail(_ reason: String) -> TinhError { .badFile(path: path, reason: reason) }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("no \"model\" object") }
        if let type = model["type"] as? String, type != "BPE" {
            throw TinhError.unsupported("\(path): tokenizer model \"\(type)\" (only byte-level BPE)")
        }
        if model["byte_fallback"] as? Bool == true {
            throw TinhError.unsupported("\(path): BPE with byte_fallback (sentencepiece-style vocabularies)")
        }
        if let normalizer = root["normalizer"] as? [String: Any] {
            throw TinhError.unsupported("\(path): normalizer \"\(normalizer["type"] as? String ?? "?")\"")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("no model.vocab object") }

        // Ids -> strings; added tokens may extend past the vocabulary.
        var byId: [Int: String] = [:]
        var types: [Int: TokenType] = [:]
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0, id < Int(Int32.max) else {
                throw fail("model.vocab[\"\(token)\"] is not a valid id")
            }
            if byId[id] != nil { throw fail("id \(id) appears twice in model.vocab") }
            byId[id] = token
        }
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = (added["id"] as? NSNumber)?.intValue, id >= 0, id < Int(Int32.max),
                  let content = added["content"] as? String else { throw fail("an added token lacks id or content") }
            byId[id] = content
            types[id] = added["special"] as? Bool == true ? .control : .userDefined
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

        let preTokenizer = try Tokenizer.preTokenizerKind(root["pre_tokenizer"], path: path)
        let config = tokenizerConfig.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        func configuredId(_ key: String) -> Int32? {
            let value = config[key]
            let content = value as? String ?? (value as? [String: Any])?["content"] as? String
            return content.flatMap { c in byId.first { $0.value == c }.map { Int32($0.key) } }
        }
        var specialIds = SpecialTokenIds(bos: configuredId("bos_token"), eos: configuredId("eos_token"),
                                         pad: configuredId("pad_token"), unk: configuredId("unk_token"))
        if specialIds.unk == nil, let unk = model["unk_token"] as? String {
            specialIds.unk = byId.first { $0.value == unk }.map { Int32($0.key) }
        }
        do {
            try self.init(tokens: tokens, mergePairs: pairs, tokenTypes: tokenTypes, specialIds: specialIds,
                          preTokenizer: preTokenizer, chatTemplate: Tokenizer.chatTemplate(in: config),
                          ignoreMerges: model["ignore_merges"] as? Bool ?? false,
                          addsBosToken: config["add_bos_token"] as? Bool
                            ?? Tokenizer.postProcessorStartsWithBos(root["post_processor"], bos: specialIds.bos.map { tokens[Int($0)] }))
        } catch let TinhError.invalidInput(reason) {
            throw fail(reason)
        }
    }

    /// Llama 3 states its BOS only in the post-processor: a `TemplateProcessing` whose single-text
    /// template starts with the bos token.
    private static func postProcessorStartsWithBos(_ value: Any?, bos: String?) -> Bool {
        guard let bos, let object = value as? [String: Any] else { return false }
        let steps = object["type"] as? String == "Sequence" ? (object["processors"] as? [[String: Any]] ?? []) : [object]
        return steps.contains { step in
            guard step["type"] as? String == "TemplateProcessing",
                  let first = (step["single"] as? [[String: Any]])?.first,
                  let special = first["SpecialToken"] as? [String: Any] else { return false }
            return special["id"] as? String == bos
        }
    }

    /// `chat_template` is a string, or a list of `{name, template}` of which "default" is the one.
    private static func chatTemplate(in config: [String: Any]) -> String? {
        if let s = config["chat_template"] as? String { return s }
        let named = config["chat_template"] as? [[String: Any]] ?? []
        return named.first { $0["name"] as? String == "default" }?["template"] as? String
    }

    /// Maps the `pre_tokenizer` object onto one of the splits Tinh implements.
    private static func preTokenizerKind(_ value: Any?, path: String) throws -> PreTokenizerKind {
        func unsupported(_ what: String) -> TinhError { .unsupported("\(path): pre_tokenizer \(what)") }
        guard let object = value as? [String: Any] else { throw unsupported("missing") }
        let steps = object["type"] as? String == "Sequence"
            ? (object["pretokenizers"] as? [[String: Any]] ?? []) : [object]
        let kinds = steps.map { $0["type"] as? String ?? "?" }
        func isByteLevel(_ step: [String: Any], regex: Bool) -> Bool {
            step["type"] as? String == "ByteLevel" && (step["use_regex"] as? Bool ?? true) == regex
                && step["add_prefix_space"] as? Bool != true
        }
        if steps.count == 1, isByteLevel(steps[0], regex: true) { return .gpt2 }
        if steps.count == 2, kinds[0] == "Digits", steps[0]["individual_digits"] as? Bool == true,
           isByteLevel(steps[1], regex: true) {
            return .gpt2IndividualDigits
        }
        if steps.count == 2, kinds[0] == "Split", isByteLevel(steps[1], regex: false),
           let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
           pattern == llama3Pattern {
            return .llama3
        }
        throw unsupported(kinds.joined(separator: " + ") + " (supported: ByteLevel, Digits + ByteLevel, Llama 3 Split + ByteLevel)")
    }

    private static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
}
