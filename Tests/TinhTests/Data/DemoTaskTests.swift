import Foundation
import Testing
@testable import Tinh

@Suite struct DemoTaskTests {
    func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-demo-\(UUID().uuidString)", isDirectory: true)
    }

    @Test func sameSeedSameBytesOtherSeedOtherData() throws {
        let a = tempDir(), b = tempDir(), c = tempDir()
        try DemoTask.write(to: a, trainCount: 300, validCount: 50, seed: 3)
        try DemoTask.write(to: b, trainCount: 300, validCount: 50, seed: 3)
        try DemoTask.write(to: c, trainCount: 300, validCount: 50, seed: 4)
        for name in ["train.jsonl", "valid.jsonl"] {
            let bytesA = try Data(contentsOf: a.appendingPathComponent(name))
            #expect(bytesA == (try Data(contentsOf: b.appendingPathComponent(name))))
            #expect(bytesA != (try Data(contentsOf: c.appendingPathComponent(name))))
        }
        let train = try JSONLReader.read(path: a.appendingPathComponent("train.jsonl").path).records
        #expect(train.count == 300)
        let data = try TrainingDataset(path: a.appendingPathComponent("train.jsonl").path, tokenizer: Tokenizer.tiny(),
                                       options: DataOptions(seq: 128, validPath: a.appendingPathComponent("valid.jsonl").path))
        #expect(data.train.count == 300 && data.valid.count == 50 && data.stats.truncated == 0 && data.stats.chatRecords == 300)
        #expect(try DemoTask.evaluationPairs(path: a.appendingPathComponent("valid.jsonl").path).count == 50)
    }

    @Test func answersFollowTheRuleAndHeldOutTriplesAreNew() throws {
        let (train, valid) = try DemoTask.examples(trainCount: 400, validCount: 100, seed: 0)
        let prefix = "Reverse the words: "
        for e in train + valid {
            #expect(e.prompt.hasPrefix(prefix))
            let words = e.prompt.dropFirst(prefix.count).split(separator: " ").map(String.init)
            #expect(words.count == 3 && Set(words).count == 3 && words.allSatisfy(DemoTask.words.contains))
            #expect(e.expected == "\(words[2]) / \(words[1]) / \(words[0])")
            #expect(DemoTask.isCorrect(answer: " \(e.expected)\n", expected: e.expected))
            #expect(!DemoTask.isCorrect(answer: words.joined(separator: " / "), expected: e.expected))
        }
        #expect(Set(train.map(\.prompt)).isDisjoint(with: valid.map(\.prompt)))
        #expect(Set(train.map(\.prompt)).count == 400)
        #expect(throws: TinhError.self) { try DemoTask.examples(trainCount: 0, validCount: 1, seed: 0) }
    }

    @Test func fitsSeq64OnSmolLM2() throws {
        guard let tok = try TokenizerFixtures.smolLM2(for: "fitsSeq64OnSmolLM2") else { return }
        for w in DemoTask.words {
            #expect(tok.encode(w).count == 1 && tok.encode(" " + w).count == 1, "\(w) is not one token")
        }
        let (train, valid) = try DemoTask.examples(trainCount: 200, validCount: 50, seed: 0)
        let encoder = try ExampleEncoder(tokenizer: tok, seq: 64)
        var longest = 0, longestAnswer = 0
        for e in train + valid {
            let (example, truncated) = try encoder.encode(.chat(e.messages))
            #expect(!truncated)
            longest = max(longest, example.count)
            longestAnswer = max(longestAnswer, example.lossTokens)
        }
        #expect(longest <= 64 && longestAnswer <= 12)
        print("demo task on SmolLM2: longest example \(longest) tokens, longest answer \(longestAnswer) tokens (with <|im_end|>)")
    }
}
