import Foundation
@testable import Tinh

/// Shared fixtures for the tokenizer tests.
enum TokenizerFixtures {
    /// SmolLM2's tokenizer from the cached GGUF, or nil after printing why the caller skips.
    static func smolLM2(for test: String) throws -> Tokenizer? {
        guard ModelCache.isSmolLM2Cached else {
            print("SKIPPED \(test): SmolLM2 is not in the cache (\(ModelCache.smolLM2Path)); run `tinh fetch smollm2`")
            return nil
        }
        if let cached = smolLM2Lock.withLock({ smolLM2Cache }) { return cached }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: ModelCache.smolLM2Path))
        smolLM2Lock.withLock { smolLM2Cache = tokenizer }
        return tokenizer
    }

    private static let smolLM2Lock = NSLock()
    nonisolated(unsafe) private static var smolLM2Cache: Tokenizer?

    static let controlTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// A small byte-level vocabulary: the 256 byte tokens (id = byte), a few merges, then
    /// `<|endoftext|>`, `<|im_start|>`, `<|im_end|>` (control) and `<tool>` (user-defined).
    static func tiny(merges extraMerges: [String] = [], preTokenizer: PreTokenizerKind = .gpt2,
                     unk: Int32? = nil, dropByte: UInt8? = nil) throws -> Tokenizer {
        var tokens = (0..<256).map { String(ByteLevel.byteToScalar[$0]) }
        if let dropByte { tokens[Int(dropByte)] = "<unused>" }
        let merges = ["h e", "l l", "Ġ t", "Ġt he", "o w", "l o", "Ġ w", "Ġw o", "r l", "Ġwo rl", "Ġworl d", "a a"]
            + extraMerges
        for m in merges {
            let merged = m.replacingOccurrences(of: " ", with: "")
            if !tokens.contains(merged) { tokens.append(merged) }
        }
        var types = [Int32](repeating: 1, count: tokens.count)
        tokens += controlTokens + ["<tool>"]
        types += [3, 3, 3, 4]
        let eos = Int32(tokens.firstIndex(of: "<|im_end|>")!)
        return try Tokenizer(tokens: tokens, merges: merges, tokenTypes: types,
                             specialIds: SpecialTokenIds(bos: eos - 1, eos: eos, unk: unk),
                             preTokenizer: preTokenizer, chatTemplate: nil)
    }

    /// Random text mixing ASCII, whitespace runs, digits, accents, combining marks, CJK and emoji.
    static func randomText<G: RandomNumberGenerator>(_ rng: inout G, maxLength: Int = 40) -> String {
        let pools: [[Unicode.Scalar]] = [
            Array("abcXYZ hello world".unicodeScalars), Array("  \t\n\r\u{A0}\u{3000}".unicodeScalars),
            Array("0123456789²½".unicodeScalars), Array(".,;:!?'\"()[]{}<>-_=+*/\\|@#$%".unicodeScalars),
            Array("éèàçñßøếệạảấầ".unicodeScalars), Array("\u{301}\u{308}\u{323}".unicodeScalars),
            Array("日本語のテキスト中文한국어".unicodeScalars), Array("🙂🚀👍🏽👨‍👩‍👧❤️".unicodeScalars),
            Array("'s't're've'm'll'd".unicodeScalars),
        ]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &rng) {
            let pool = pools[Int.random(in: 0..<pools.count, using: &rng)]
            s.append(pool[Int.random(in: 0..<pool.count, using: &rng)])
        }
        return String(s)
    }
}

