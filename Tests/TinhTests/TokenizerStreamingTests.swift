import Testing
@testable import Tinh

struct TokenizerStreamingTests {
    /// One byte token at a time, an emoji only appears once its four bytes are in.
    @Test func holdsIncompleteSequences() throws {
        let tok = try TokenizerFixtures.tiny()
        var decoder = tok.makeStreamingDecoder()
        let bytes = Array("a🙂b".utf8)
        let outputs = bytes.map { decoder.push(Int32($0)) }
        #expect(outputs == ["a", "", "", "", "🙂", "b"])
        #expect(decoder.finish() == "")
    }

    /// Streamed text equals one-shot decode, also for random (often invalid) byte sequences.
    @Test func streamEqualsDecode() throws {
        let tok = try TokenizerFixtures.tiny()
        var rng = TestRNG(state: 9)
        for round in 0..<400 {
            let ids: [Int32]
            if round % 2 == 0 {
                ids = tok.encode(TokenizerFixtures.randomText(&rng))
            } else {
                ids = (0..<Int.random(in: 0...12, using: &rng)).map { _ in Int32.random(in: 0..<Int32(tok.vocabularySize), using: &rng) }
            }
            var decoder = tok.makeStreamingDecoder()
            var streamed = ids.map { decoder.push($0) }.joined()
            streamed += decoder.finish()
            #expect(streamed == tok.decode(ids), "\(ids)")
        }
    }

    @Test func skipsControlTokens() throws {
        let tok = try TokenizerFixtures.tiny()
        var decoder = tok.makeStreamingDecoder(skipSpecial: true)
        let text = tok.encode("hi<|im_end|>").map { decoder.push($0) }.joined() + decoder.finish()
        #expect(text == "hi")
    }
}
