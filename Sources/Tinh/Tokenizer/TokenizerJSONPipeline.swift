/// Reads the normalizer, pre-tokenizer and decoder of a `tokenizer.json` and maps them onto one of
/// the `TokenizerKind`s Tinh implements; anything else is refused by name, never approximated.
enum TokenizerJSONPipeline {
    static func kind(root: [String: Any], byteFallback: Bool, path: String) throws -> TokenizerKind {
        func unsupported(_ what: String) -> TinhError { .unsupported("\(path): \(what)") }
        let normalizer = steps(root["normalizer"], list: "normalizers")
        let pre = steps(root["pre_tokenizer"], list: "pretokenizers")
        if !byteFallback {
            var nfc = false
            if !normalizer.isEmpty {
                guard normalizer.count == 1, type(normalizer[0]) == "NFC" else {
                    throw unsupported("normalizer \(describe(normalizer)) (supported for byte-level BPE: none, NFC)")
                }
                nfc = true
            }
            return .byteLevel(try byteLevelSplit(pre, path: path), nfc: nfc)
        }
        let prefix = try spacePrefix(normalizer, pre, path: path)
        let decoder = steps(root["decoder"], list: "decoders")
        let strips = decoder.contains {
            type($0) == "Strip" && $0["content"] as? String == " " && ($0["start"] as? Int ?? 0) >= 1
        } || decoder.contains { type($0) == "Metaspace" && prependScheme($0) != "never" }
        return .sentencePiece(prefix, decodeStripsSpace: strips)
    }

    /// The forms transformers' converters write for SentencePiece-style BPE.
    private static func spacePrefix(_ normalizer: [[String: Any]], _ pre: [[String: Any]], path: String) throws -> SpacePrefix {
        func isReplaceSpace(_ s: [String: Any]) -> Bool {
            type(s) == "Replace" && (s["pattern"] as? [String: Any])?["String"] as? String == " "
                && s["content"] as? String == SentencePiece.marker
        }
        func isPrepend(_ s: [String: Any]) -> Bool { type(s) == "Prepend" && s["prepend"] as? String == SentencePiece.marker }
        // Non-legacy Llama / Mistral: no normalizer, Metaspace without splitting.
        if normalizer.isEmpty, pre.count == 1, type(pre[0]) == "Metaspace",
           pre[0]["replacement"] as? String == SentencePiece.marker, pre[0]["split"] as? Bool == false {
            switch prependScheme(pre[0]) {
            case "first": return .first
            case "always": return .always
            case "never": return .none
            default: break
            }
        }
        // Llama 2 legacy (Phi-3, TinyLlama): Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer.
        if normalizer.count == 2, isPrepend(normalizer[0]), isReplaceSpace(normalizer[1]), pre.isEmpty {
            return .everyStretch
        }
        // Gemma: Replace(" " -> "▁"); its Split on " " finds nothing left to split.
        if normalizer.count == 1, isReplaceSpace(normalizer[0]),
           pre.isEmpty || (pre.count == 1 && type(pre[0]) == "Split"
                           && (pre[0]["pattern"] as? [String: Any])?["String"] as? String == " ") {
            return .none
        }
        throw TinhError.unsupported("\(path): byte_fallback BPE with normalizer \(describe(normalizer)) and pre_tokenizer "
            + "\(describe(pre)) (supported: Metaspace(prepend_scheme first/always/never, split false); Prepend(▁) + Replace(' ', ▁); "
            + "Replace(' ', ▁) with an optional Split(' '))")
    }

    /// Older files say `add_prefix_space` instead of `prepend_scheme`.
    private static func prependScheme(_ s: [String: Any]) -> String {
        if let scheme = s["prepend_scheme"] as? String { return scheme }
        return s["add_prefix_space"] as? Bool == false ? "never" : "always"
    }

    /// The byte-level splits Tinh implements.
    static func byteLevelSplit(_ steps: [[String: Any]], path: String) throws -> PreTokenizerKind {
        func isByteLevel(_ step: [String: Any], regex: Bool) -> Bool {
            type(step) == "ByteLevel" && (step["use_regex"] as? Bool ?? true) == regex
                && step["add_prefix_space"] as? Bool != true
        }
        if steps.count == 1, isByteLevel(steps[0], regex: true) { return .gpt2 }
        if steps.count == 2, type(steps[0]) == "Digits", steps[0]["individual_digits"] as? Bool == true,
           isByteLevel(steps[1], regex: true) {
            return .gpt2IndividualDigits
        }
        if steps.count == 2, type(steps[0]) == "Split", isByteLevel(steps[1], regex: false),
           let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String {
            if pattern == llama3Pattern { return .llama3 }
            if pattern == qwen2Pattern { return .qwen2 }
        }
        throw TinhError.unsupported("\(path): pre_tokenizer \(describe(steps)) (supported: ByteLevel, Digits + ByteLevel, "
            + "the Llama 3 or Qwen2 Split + ByteLevel)")
    }

    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// A step or a Sequence of steps as a flat list; [] for null.
    private static func steps(_ value: Any?, list key: String) -> [[String: Any]] {
        guard let object = value as? [String: Any] else { return [] }
        if type(object) == "Sequence" { return (object[key] as? [[String: Any]] ?? []).flatMap { steps($0, list: key) } }
        return [object]
    }

    private static func type(_ s: [String: Any]) -> String { s["type"] as? String ?? "?" }

    private static func describe(_ steps: [[String: Any]]) -> String {
        steps.isEmpty ? "none" : steps.map(type).joined(separator: " + ")
    }
}
