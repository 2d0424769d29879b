/// How text between special tokens is cut into words before BPE. BPE never merges across words, so
/// this must be exactly the split the vocabulary was trained with.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Each `\p{N}` scalar alone, then GPT-2's split on the text between them. This is SmolLM2's
    /// `Digits(individual_digits: true)` + `ByteLevel`, and llama.cpp's "smollm"/"starcoder".
    case gpt2IndividualDigits
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2/2.5/3: Llama 3's split with each `\p{N}` alone instead of groups of up to three.
    case qwen2

    /// The `tokenizer.ggml.pre` names `init(ggufName:)` knows.
    public static let ggufNames = ["default", "gpt2", "gpt-2", "mpt", "olmo", "jais", "smollm", "starcoder", "refact",
                                   "codeshell", "exaone", "minerva", "command-r", "llama3", "llama-v3", "llama-bpe",
                                   "falcon3", "dbrx", "smaug-bpe", "qwen2"]

    /// The split a GGUF `tokenizer.ggml.pre` name stands for (llama.cpp's names); nil if unknown.
    public init?(ggufName: String) {
        switch ggufName {
        case "default", "gpt2", "gpt-2", "mpt", "olmo", "jais":
            self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell", "exaone", "minerva", "command-r":
            self = .gpt2IndividualDigits
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe":
            self = .llama3
        case "qwen2":
            self = .qwen2
        default:
            return nil
        }
    }
}

/// Cuts UTF-8 text into pre-token words (byte ranges) with a hand-written scanner equivalent to the
/// regexes above: each alternative is tried in order at the current scalar, as a regex engine would.
struct PreTokenizer: Sendable {
    let kind: PreTokenizerKind

    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into words: inout [Range<Int>]) {
        guard !range.isEmpty else { return }
        let run = ScalarRun(bytes, range)
        var pieces: [Range<Int>] = []
        switch kind {
        case .gpt2:
            splitGPT2(run, 0..<run.count, into: &pieces)
        case .gpt2IndividualDigits:
            // Numbers cut the text first, so a space before a digit is not absorbed into it and the
            // stretch before a digit ends there, as the end of text ends it (for `\s+(?!\S)`).
            var start = 0
            for i in 0..<run.count where run.classes[i] == .number {
                splitGPT2(run, start..<i, into: &pieces)
                pieces.append(i..<(i + 1))
                start = i + 1
            }
            splitGPT2(run, start..<run.count, into: &pieces)
        case .llama3:
            splitLlama3(run, maxDigits: 3, into: &pieces)
        case .qwen2:
            splitLlama3(run, maxDigits: 1, into: &pieces)
        }
        for p in pieces { words.append(run.offsets[p.lowerBound]..<run.offsets[p.upperBound]) }
    }

    // MARK: GPT-2

    private func splitGPT2(_ run: ScalarRun, _ range: Range<Int>, into out: inout [Range<Int>]) {
        let v = run.values, c = run.classes, end = range.upperBound
        var i = range.lowerBound
        while i < end {
            if let n = contraction(v, i, end, caseInsensitive: false) {
                out.append(i..<(i + n)); i += n; continue
            }
            // ` ?X+` for X in letters, numbers, others: an optional ASCII space, then a run of one class.
            let hasSpace = v[i] == 0x20 && i + 1 < end && c[i + 1] != .whitespace
            let first = hasSpace ? i + 1 : i
            if c[first] != .whitespace {
                let cls = c[first]
                var j = first + 1
                while j < end && c[j] == cls { j += 1 }
                out.append(i..<j); i = j; continue
            }
            let j = whitespaceEnd(c, i, end)
            out.append(i..<trailingWhitespaceMatch(i, j, end)); i = out[out.count - 1].upperBound
        }
    }

    // MARK: Llama 3

    /// Llama 3's regex; `maxDigits` is the `\p{N}{1,3}` group (1 for Qwen2's `\p{N}`).
    private func splitLlama3(_ run: ScalarRun, maxDigits: Int, into out: inout [Range<Int>]) {
        let v = run.values, c = run.classes, end = run.count
        var i = 0
        while i < end {
            if let n = contraction(v, i, end, caseInsensitive: true) {
                out.append(i..<(i + n)); i += n; continue
            }
            // `[^\r\n\p{L}\p{N}]?\p{L}+`
            let letterStart = c[i] == .letter ? i
                : (!isNewline(v[i]) && c[i] != .number && i + 1 < end && c[i + 1] == .letter) ? i + 1 : -1
            if letterStart >= 0 {
                var j = letterStart + 1
                while j < end && c[j] == .letter { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // `\p{N}{1,3}`
            if c[i] == .number {
                var j = i + 1
                while j < end && j < i + maxDigits && c[j] == .number { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let otherStart = (v[i] == 0x20 && i + 1 < end && c[i + 1] == .other) ? i + 1 : i
            if c[otherStart] == .other {
                var j = otherStart + 1
                while j < end && c[j] == .other { j += 1 }
                while j < end && isNewline(v[j]) { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // `\s*[\r\n]+`: the whitespace run up to and including its last newline.
            let j = whitespaceEnd(c, i, end)
            if let lastNewline = (i..<j).last(where: { isNewline(v[$0]) }) {
                out.append(i..<(lastNewline + 1)); i = lastNewline + 1; continue
            }
            out.append(i..<trailingWhitespaceMatch(i, j, end)); i = out[out.count - 1].upperBound
        }
    }

    // MARK: Shared pieces

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `i`, if one starts there.
    private func contraction(_ v: [UInt32], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
        guard v[i] == 0x27, i + 1 < end else { return nil }  // '
        func lower(_ k: Int) -> UInt32 {
            let x = v[k]
            return caseInsensitive && (0x41...0x5A).contains(x) ? x + 0x20 : x
        }
        switch lower(i + 1) {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        case 0x72, 0x76: return i + 2 < end && lower(i + 2) == 0x65 ? 3 : nil  // re ve
        case 0x6C: return i + 2 < end && lower(i + 2) == 0x6C ? 3 : nil  // ll
        default: return nil
        }
    }

    private func whitespaceEnd(_ c: [ScalarClass], _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end && c[j] == .whitespace { j += 1 }
        return j
    }

    /// End of `\s+(?!\S)|\s+` for the whitespace run `i..<j`: the whole run at the end of text;
    /// before a non-space, all but the last whitespace (which then prefixes the next word);
    /// a single whitespace before a non-space stands alone.
    private func trailingWhitespaceMatch(_ i: Int, _ j: Int, _ end: Int) -> Int {
        if j == end || j - i == 1 { return j }
        return j - 1
    }

    private func isNewline(_ x: UInt32) -> Bool { x == 0x0A || x == 0x0D }
}
