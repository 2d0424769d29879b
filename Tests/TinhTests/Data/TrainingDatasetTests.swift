import Foundation
import Testing
@testable import Tinh

@Suite struct TrainingDatasetTests {
    typealias F = DataFixtures

    func lines(_ n: Int) -> String {
        (0..<n).map { "{\"prompt\": \"p\($0) \", \"completion\": \"c\($0)\"}\n" }.joined()
    }

    @Test func statsCountShapesTokensAndTruncation() throws {
        let path = try F.write("""
            {"text": "hello"}
            {"prompt": "Q", "completion": "A"}
            not json
            {"text": "a long line that will be cut"}

            """)
        let data = try TrainingDataset(path: path, tokenizer: F.plainTokenizer(), options: DataOptions(seq: 8, skipBadLines: true))
        let s = data.stats
        #expect(s.textRecords == 2 && s.promptCompletionRecords == 1 && s.chatRecords == 0 && s.records == 3)
        #expect(s.tokens == 6 + 3 + 9)
        #expect(s.lossTokens == 5 + 2 + 8)
        #expect(s.truncated == 1 && s.withoutLoss == 0)
        #expect(s.skippedLines.count == 1 && s.skippedLines[0].hasPrefix("\(path):3:"))
        #expect(data.train.count == 3 && data.valid.isEmpty && data.train.lossTokens == 15)
        #expect(data.summary.contains("1 truncated") && data.summary.contains(data.fingerprint))
    }

    @Test func allMaskedDataIsAClearError() throws {
        let path = try F.write("{\"prompt\": \"question\", \"completion\": \"\"}\n{\"prompt\": \"q2\", \"completion\": \"\"}\n")
        // Without EOS, empty completions leave nothing to learn.
        let tok = try F.plainTokenizer(eos: false)
        do {
            _ = try TrainingDataset(path: path, tokenizer: tok, options: DataOptions(seq: 16))
            Issue.record("no error")
        } catch let error as TinhError {
            #expect(error.description.hasPrefix(path) && error.description.contains("--train-on-prompt"), "\(error)")
        }
        // Prompts cut off by --seq: the message says so.
        let long = try F.write("{\"prompt\": \"a long question here\", \"completion\": \"yes\"}\n")
        do {
            _ = try TrainingDataset(path: long, tokenizer: F.plainTokenizer(), options: DataOptions(seq: 4))
            Issue.record("no error")
        } catch let error as TinhError {
            #expect(error.description.contains("raise --seq"), "\(error)")
        }
        // --train-on-prompt makes it trainable.
        let ok = try TrainingDataset(path: path, tokenizer: tok, options: DataOptions(seq: 16, trainOnPrompt: true))
        #expect(ok.train.count == 2 && ok.train.lossTokens == 7 + 1)
    }

    @Test func emptyDataAndChatWithoutTemplateAreErrors() throws {
        #expect(throws: TinhError.self) { try TrainingDataset(path: F.write("\n"), tokenizer: F.plainTokenizer(), options: DataOptions(seq: 8)) }
        let chat = try F.write("{\"text\": \"x\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n")
        do {
            _ = try TrainingDataset(path: chat, tokenizer: F.plainTokenizer(), options: DataOptions(seq: 8))
            Issue.record("no error")
        } catch let error as TinhError {
            #expect(error.description.hasPrefix("\(chat):2: ") && error.description.contains("chat template"), "\(error)")
        }
        #expect(throws: TinhError.self) { try TrainingDataset(path: chat, tokenizer: F.plainTokenizer(), options: DataOptions(seq: 0)) }
        #expect(throws: TinhError.self) {
            try TrainingDataset(path: F.write(lines(3)), tokenizer: F.plainTokenizer(), options: DataOptions(seq: 8, validFraction: 1))
        }
    }

    @Test func examplesWithoutLossAreDroppedAndCounted() throws {
        let path = try F.write("{\"text\": \"abc\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n")
        let data = try TrainingDataset(path: path, tokenizer: Tokenizer.tiny(), options: DataOptions(seq: 32))
        #expect(data.stats.withoutLoss == 1 && data.train.count == 1)
    }

    @Test func splitIsDeterministicDisjointAndNeverEmptiesTrain() throws {
        for seed: UInt64 in [0, 1, 42] {
            let (train, valid) = DataSplit.split(count: 1000, fraction: 0.1, seed: seed)
            #expect(DataSplit.split(count: 1000, fraction: 0.1, seed: seed) == (train, valid))
            #expect(Set(train).isDisjoint(with: valid) && train.count + valid.count == 1000)
            #expect((60...140).contains(valid.count), "\(valid.count)")
            // Appending examples never moves earlier ones.
            let (_, validMore) = DataSplit.split(count: 1200, fraction: 0.1, seed: seed)
            #expect(validMore.filter { $0 < 1000 } == valid)
        }
        #expect(DataSplit.split(count: 1000, fraction: 0.1, seed: 1).valid != DataSplit.split(count: 1000, fraction: 0.1, seed: 2).valid)
        #expect(DataSplit.split(count: 1, fraction: 0.5, seed: 0) == ([0], []))
        let two = DataSplit.split(count: 2, fraction: 0.01, seed: 0)
        #expect(two.train.count == 1 && two.valid.count == 1)
        let most = DataSplit.split(count: 3, fraction: 0.99, seed: 0)
        #expect(most.train.count >= 1 && most.valid.count >= 1)
        #expect(DataSplit.split(count: 5, fraction: 0, seed: 0) == ([0, 1, 2, 3, 4], []))
    }

    @Test func datasetSplitAndValidFile() throws {
        let path = try F.write(lines(200))
        let tok = try F.plainTokenizer()
        let options = DataOptions(seq: 16, validFraction: 0.2, seed: 7)
        let a = try TrainingDataset(path: path, tokenizer: tok, options: options)
        let b = try TrainingDataset(path: path, tokenizer: tok, options: options)
        #expect(a.fingerprint == b.fingerprint && a.train.examples == b.train.examples)
        #expect(a.train.count + a.valid.count == 200 && a.valid.count > 10)
        #expect(Set(a.train.examples.map(\.ids)).isDisjoint(with: a.valid.examples.map(\.ids)))

        let validPath = try F.write(lines(5))
        var withFile = options
        withFile.validPath = validPath
        let c = try TrainingDataset(path: path, tokenizer: tok, options: withFile)
        #expect(c.train.count == 200 && c.valid.count == 5 && c.validStats?.records == 5)
    }

    @Test func packedDatasetHasFewerFullerRows() throws {
        let path = try F.write(lines(40))
        let tok = try F.plainTokenizer()
        let plain = try TrainingDataset(path: path, tokenizer: tok, options: DataOptions(seq: 32))
        let packed = try TrainingDataset(path: path, tokenizer: tok, options: DataOptions(seq: 32, pack: true))
        #expect(packed.train.count < plain.train.count / 2)
        #expect(packed.train.examples.flatMap(\.ids) == plain.train.examples.flatMap(\.ids))
        // Each packed example's first token has no loss, as it had none alone.
        #expect(packed.train.lossTokens == plain.train.lossTokens)
        #expect(packed.fingerprint != plain.fingerprint)
        let batch = try packed.train.batch([0, 1])
        #expect(batch.tokens.count == 64 && batch.lossTokens > 0)
    }

    @Test func fingerprintIsStableAndSensitive() throws {
        let examples = [F.example([1, 2, 3], [false, true, true]), F.example([4, 5])]
        let fp = Fingerprint(examples).hex
        #expect(fp == "488d37978f73a766") // pinned (checked with a Python FNV-1a): the same data must hash the same in every build
        #expect(Fingerprint([]).hex.count == 16)
        var otherId = examples; otherId[1].ids[1] = 6
        var otherMask = examples; otherMask[0].lossMask[2] = false
        let moved = [F.example([1, 2]), F.example([3, 4, 5])] // same tokens, other boundaries
        let reordered = [examples[1], examples[0]]
        let all = [fp] + [otherId, otherMask, moved, reordered].map { Fingerprint($0).hex }
        #expect(Set(all).count == all.count)
    }
}
