/// A small byte-level tokenizer for the in-process `tiny` model and for tests.
extension Tokenizer {
    /// Ids 0, 1, 2 are `<|endoftext|>`, `<|im_start|>`, `<|im_end|>` (control; bos 1, eos 2, pad 0),
    /// then the 256 byte tokens, then merges learned by BPE from a built-in paragraph until
    /// `vocabularySize` is reached; any rest are unused placeholders. Deterministic; ChatML template.
    public static func tiny(vocabularySize: Int = 512) throws -> Tokenizer {
        let controls = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        guard vocabularySize >= controls.count + 256, vocabularySize <= 1 << 20 else {
            throw TinhError.invalidInput("tiny tokenizer: vocabulary size \(vocabularySize) must be between 259 and \(1 << 20)")
        }
        var tokens = controls + (0..<256).map { String(ByteLevel.byteToScalar[$0]) }
        var known = Set(tokens)
        var merges: [String] = []

        // Words of the corpus as symbol lists, with their counts.
        let utf8 = Array(tinyCorpus.utf8)
        var ranges: [Range<Int>] = []
        utf8.withUnsafeBufferPointer { PreTokenizer(kind: .gpt2IndividualDigits).split($0, 0..<utf8.count, into: &ranges) }
        var counts: [[String]: Int] = [:]
        for r in ranges { counts[utf8[r].map { String(ByteLevel.byteToScalar[Int($0)]) }, default: 0] += 1 }
        var words = counts.map { (symbols: $0.key, count: $0.value) }

        while tokens.count < vocabularySize {
            var pairCounts: [String: Int] = [:]
            for w in words where w.symbols.count > 1 {
                for i in 0..<(w.symbols.count - 1) { pairCounts[w.symbols[i] + " " + w.symbols[i + 1], default: 0] += w.count }
            }
            // Most frequent pair; ties broken by spelling so the result never depends on hashing.
            guard let best = pairCounts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }),
                  best.value >= 2 else { break }
            let parts = best.key.split(separator: " ").map(String.init)
            let merged = parts[0] + parts[1]
            merges.append(best.key)
            if known.insert(merged).inserted { tokens.append(merged) }
            for k in words.indices {
                var s = words[k].symbols, i = 0
                while i + 1 < s.count {
                    if s[i] == parts[0] && s[i + 1] == parts[1] { s[i] = merged; s.remove(at: i + 1) }
                    i += 1
                }
                words[k].symbols = s
            }
        }
        var types = [Int32](repeating: TokenType.normal.rawValue, count: tokens.count)
        for i in 0..<controls.count { types[i] = TokenType.control.rawValue }
        while tokens.count < vocabularySize {
            tokens.append("<|unused_\(tokens.count)|>")
            types.append(TokenType.unused.rawValue)
        }
        return try Tokenizer(tokens: tokens, merges: merges, tokenTypes: types,
                             specialIds: SpecialTokenIds(bos: 1, eos: 2, pad: 0),
                             preTokenizer: .gpt2IndividualDigits,
                             chatTemplate: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    }

    /// Training text for the tiny vocabulary: plain English about the things Tinh's tests talk about.
    private static let tinyCorpus = """
        The small model reads a line of text, one token at a time, and learns to guess the next token. \
        A user asks a question and the assistant gives a short answer. What is the capital of France? \
        The capital of France is Paris. What is two plus two? Two plus two is four. \
        The quick brown fox jumps over the lazy dog, and the dog does not mind at all. \
        Training runs for a number of steps; each step reads a batch, computes the loss, and updates \
        the weights of the adapter while the base model stays frozen. The learning rate starts small, \
        rises during the warmup, and then decays. When the loss goes down, the model is learning. \
        Hello world! Hello there, how are you today? I am fine, thank you, and you? \
        In the morning the sun comes up over the hills, and in the evening it goes down again. \
        Numbers such as 12, 345 and 2026 are split into single digits before the merges are applied.
        """
}
