import Foundation
import Testing
@testable import Tinh

struct TokenizerBPETests {
    @Test func mergesApplyByRank() throws {
        let tok = try TokenizerFixtures.tiny()
        let ids = tok.encode("the world")
        #expect(ids.map { tok.token($0)! } == ["t", "he", "Ġworld"])
        #expect(tok.decode(ids) == "the world")
    }

    /// Same pairs, opposite ranks: "a b" first gives [ab, c], "b c" first gives [a, bc].
    @Test func lowerRankWins() throws {
        let first = try Tokenizer(tokens: ["a", "b", "c", "ab", "bc"], merges: ["a b", "b c"])
        let second = try Tokenizer(tokens: ["a", "b", "c", "ab", "bc"], merges: ["b c", "a b"])
        #expect(first.encode("abc") == [3, 2])
        #expect(second.encode("abc") == [0, 4])
    }

    /// Equal ranks merge leftmost first: "aaa" -> [aa, a], "aaaa" -> [aa, aa].
    @Test func leftmostFirstOnTies() throws {
        let tok = try TokenizerFixtures.tiny()
        let aa = tok.id(ofToken: "aa")!, a = tok.id(ofToken: "a")!
        #expect(tok.encode("aaa") == [aa, a])
        #expect(tok.encode("aaaa") == [aa, aa])
    }

    /// The heap-based merge loop against a plain quadratic one, on random words.
    @Test func mergeLoopMatchesNaive() throws {
        let tok = try TokenizerFixtures.tiny(merges: ["aa aa", "ab a", "a b", "b a", "ba b"])
        var ranks: [String: Int] = [:]
        for (r, m) in (["h e", "l l", "Ġ t", "Ġt he", "o w", "l o", "Ġ w", "Ġw o", "r l", "Ġwo rl", "Ġworl d", "a a",
                        "aa aa", "ab a", "a b", "b a", "ba b"]).enumerated() where ranks[m] == nil { ranks[m] = r }
        func naive(_ word: String) -> [String] {
            var symbols = word.map(String.init)
            while symbols.count > 1 {
                var best: (rank: Int, at: Int)?
                for i in 0..<(symbols.count - 1) {
                    if let r = ranks[symbols[i] + " " + symbols[i + 1]], best == nil || r < best!.rank { best = (r, i) }
                }
                guard let best else { break }
                symbols[best.at] += symbols[best.at + 1]
                symbols.remove(at: best.at + 1)
            }
            return symbols
        }
        var rng = TestRNG(state: 3)
        for _ in 0..<500 {
            let word = String((0..<Int.random(in: 1...30, using: &rng)).map { _ in "ab".randomElement(using: &rng)! })
            #expect(tok.encode(word).map { tok.token($0)! } == naive(word), "\(word)")
        }
    }

    @Test func specialTokensAreMatchedWhole() throws {
        let tok = try TokenizerFixtures.tiny()
        let start = tok.id(ofToken: "<|im_start|>")!, end = tok.id(ofToken: "<|im_end|>")!
        let ids = tok.encode("<|im_start|>hello<|im_end|>")
        #expect(ids.first == start && ids.last == end)
        #expect(tok.decode(ids) == "<|im_start|>hello<|im_end|>")
        #expect(tok.decode(ids, skipSpecial: true) == "hello")
        // As plain text the markup is spelled out byte by byte.
        let plain = tok.encode("<|im_start|>", parseSpecial: false)
        #expect(plain.count > 1 && !plain.contains(start))
        #expect(tok.decode(plain) == "<|im_start|>")
        // User-defined tokens are matched even in plain mode.
        #expect(tok.encode("x<tool>y", parseSpecial: false).contains(tok.id(ofToken: "<tool>")!))
    }

    @Test func longestSpecialTokenWins() throws {
        let tokens = (0..<256).map { String(ByteLevel.byteToScalar[$0]) } + ["<|a|>", "<|a|>b"]
        let tok = try Tokenizer(tokens: tokens, merges: [], tokenTypes: [Int32](repeating: 1, count: 256) + [3, 3])
        #expect(tok.encode("<|a|>b") == [257])
        #expect(tok.encode("<|a|>c") == [256, Int32(UInt8(ascii: "c"))])
    }

    /// Text next to a special token is pre-tokenized on its own, as if the text ended there.
    @Test func specialTokensCutWords() throws {
        let tok = try TokenizerFixtures.tiny()
        let ids = tok.encode("he<|im_end|>he")
        #expect(ids.map { tok.token($0)! } == ["he", "<|im_end|>", "he"])
    }

    @Test func offsetsCoverTheInput() throws {
        let tok = try TokenizerFixtures.tiny()
        let text = "<|im_start|>the world 🙂<|im_end|>"
        let spans = tok.encodeWithOffsets(text)
        let utf8 = Array(text.utf8)
        #expect(spans.map(\.id) == tok.encode(text))
        #expect(spans.first?.bytes.lowerBound == 0 && spans.last?.bytes.upperBound == utf8.count)
        for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.bytes.upperBound == b.bytes.lowerBound) }
        for s in spans { #expect(tok.bytes(of: s.id) == Array(utf8[s.bytes])) }
    }

    @Test func roundTripsRandomText() throws {
        let tok = try TokenizerFixtures.tiny()
        var rng = TestRNG(state: 42)
        for _ in 0..<500 {
            let text = TokenizerFixtures.randomText(&rng)
            #expect(tok.decode(tok.encode(text, parseSpecial: false)) == text)
            #expect(tok.decode(tok.encode(text)) == text)
        }
    }

    @Test func missingByteBecomesUnknown() throws {
        let dropped = try TokenizerFixtures.tiny(unk: 0, dropByte: UInt8(ascii: "z"))
        #expect(dropped.encode("zz") == [0, 0])
        let noUnk = try TokenizerFixtures.tiny(dropByte: UInt8(ascii: "z"))
        #expect(noUnk.encode("aza") == [Int32(UInt8(ascii: "a")), Int32(UInt8(ascii: "a"))])
    }

    @Test func badInputsAreErrorsNotTraps() throws {
        let bytes = (0..<256).map { String(ByteLevel.byteToScalar[$0]) }
        #expect(throws: TinhError.self) { try Tokenizer(tokens: [], merges: []) }
        #expect(throws: TinhError.self) { try Tokenizer(tokens: bytes, merges: ["a"]) }
        #expect(throws: TinhError.self) { try Tokenizer(tokens: bytes, merges: ["a b c"]) }
        #expect(throws: TinhError.self) { try Tokenizer(tokens: bytes, merges: ["a b"]) }  // "ab" missing
        #expect(throws: TinhError.self) { try Tokenizer(tokens: bytes, merges: [], tokenTypes: [1]) }
        #expect(throws: TinhError.self) { try Tokenizer(tokens: bytes, merges: [], specialIds: SpecialTokenIds(eos: 999)) }
        let tok = try TokenizerFixtures.tiny()
        #expect(tok.decode([-1, 1_000_000]) == "\u{FFFD}\u{FFFD}")
        #expect(tok.encode("") == [])
    }

    /// The shared word cache gives the same answers under concurrent use.
    @Test func concurrentEncodingAgrees() throws {
        let tok = try TokenizerFixtures.tiny()
        var rng = TestRNG(state: 77)
        let texts = (0..<64).map { _ in TokenizerFixtures.randomText(&rng) }
        let expected = texts.map { tok.encode($0) }
        let lock = NSLock()
        nonisolated(unsafe) var mismatches = 0
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for (i, text) in texts.enumerated() where tok.encode(text) != expected[i] {
                lock.withLock { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func longWordsStayFast() throws {
        let tok = try TokenizerFixtures.tiny()
        let text = String(repeating: "a", count: 100_000) + String(repeating: " ", count: 50_000)
        let start = Date()
        let ids = tok.encode(text)
        #expect(ids.count == 50_000 + 50_000)  // "aa" pairs, then single spaces (no "Ġ Ġ" merge)
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
