import Testing
@testable import Tinh

/// Expected splits were produced with Python's `regex` module on the documented patterns.
struct TokenizerPreTokenizerTests {
    func split(_ text: String, _ kind: PreTokenizerKind) -> [String] {
        let utf8 = Array(text.utf8)
        var words: [Range<Int>] = []
        utf8.withUnsafeBufferPointer { PreTokenizer(kind: kind).split($0, 0..<utf8.count, into: &words) }
        return words.map { String(decoding: utf8[$0], as: UTF8.self) }
    }

    @Test func gpt2Split() {
        #expect(split("Hello world", .gpt2) == ["Hello", " world"])
        #expect(split("a  1", .gpt2) == ["a", " ", " 1"])
        #expect(split("  x  ", .gpt2) == [" ", " x", "  "])
        #expect(split("don't I'M", .gpt2) == ["don", "'t", " I", "'", "M"])
        #expect(split("\n\n\nend", .gpt2) == ["\n\n", "\n", "end"])
        #expect(split("x²y 12", .gpt2) == ["x", "²", "y", " 12"])
        #expect(split("a\t\tb", .gpt2) == ["a", "\t", "\t", "b"])
        #expect(split("¿Qué?  ¡Sí!", .gpt2) == ["¿", "Qué", "?", " ", " ¡", "Sí", "!"])
    }

    /// Numbers cut the text before the GPT-2 split: a space before a digit stays apart, and a
    /// whitespace run before a digit ends there as at the end of the text.
    @Test func individualDigitsSplit() {
        #expect(split("a  1", .gpt2IndividualDigits) == ["a", "  ", "1"])
        #expect(split("x²y 12", .gpt2IndividualDigits) == ["x", "²", "y", " ", "1", "2"])
        #expect(split("Numbers: 12", .gpt2IndividualDigits) == ["Numbers", ":", " ", "1", "2"])
    }

    @Test func llama3Split() {
        #expect(split("a  1", .llama3) == ["a", " ", " ", "1"])
        #expect(split("don't I'M", .llama3) == ["don", "'t", " I", "'M"])
        #expect(split("\n\n\nend", .llama3) == ["\n\n\n", "end"])
        #expect(split("a\t\tb", .llama3) == ["a", "\t", "\tb"])
        #expect(split("¿Qué?  ¡Sí!", .llama3) == ["¿Qué", "?", " ", " ¡", "Sí", "!"])
        #expect(split("I'M here 12345 ok", .llama3) == ["I", "'M", " here", " ", "123", "45", " ok"])
        #expect(split("foo\r\n\r\n  bar", .llama3) == ["foo", "\r\n\r\n", " ", " bar"])
        #expect(split("x!!\n\ny", .llama3) == ["x", "!!\n\n", "y"])
    }

    @Test func splitsCoverTheTextExactly() {
        var rng = TestRNG(state: 11)
        for _ in 0..<300 {
            let text = TokenizerFixtures.randomText(&rng)
            for kind in PreTokenizerKind.allCases {
                let words = split(text, kind)
                #expect(words.joined() == text)
                #expect(!words.contains(""))
            }
        }
    }

    @Test func ggufNames() {
        #expect(PreTokenizerKind(ggufName: "smollm") == .gpt2IndividualDigits)
        #expect(PreTokenizerKind(ggufName: "gpt2") == .gpt2)
        #expect(PreTokenizerKind(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizerKind(ggufName: "no-such-split") == nil)
    }
}
