import Foundation
import Testing
@testable import Tinh

/// `tinh data check` finds every planted defect at its line, and nothing in clean data.
@Suite struct DataCheckTests {
    typealias F = DataFixtures

    /// A training file with one known defect per line (or none), and the findings expected of it.
    static let trainLines: [String] = [
        #"{"text": "The quick brown fox jumps over the lazy dog near the river bank today."}"#,   // 1 clean
        #"{"prompt": "What is two plus two?", "completion": "Four."}"#,                              // 2 clean
        #"{"text": "unterminated"#,                                                                  // 3 malformed
        "",                                                                                          // 4 blank
        #"{"text": "   "}"#,                                                                         // 5 empty text
        #"{"prompt": "Name a colour.", "completion": ""}"#,                                          // 6 empty completion
        #"{"messages": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}]}"#,  // 7 order, ends with user
        #"{"text": "the QUICK brown fox   jumps over the lazy dog near the river bank today."}"#,   // 8 duplicate of 1
        #"{"text": "The quick brown fox jumps over the lazy dog near the river bank yesterday."}"#, // 9 near duplicate of 1
        #"{"text": "the bell\u0007 rings twice at noon"}"#,                                         // 10 control character
        #"{"text": "cafÃ© au lait with two sugars"}"#,                                               // 11 mojibake
        "INVALID-UTF8",                                                                              // 12 invalid UTF-8
        #"{"messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"}]}"#,  // 13 no assistant
        #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}, {"role": "assistant", "content": "Yes"}]}"#,  // 14 user twice
        #"{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "system", "content": "late"}]}"#,  // 15 late system
        #"{"foo": 1}"#,                                                                              // 16 malformed shape
        #"{"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]}"#,  // 17 clean
        #"{"prompt": "", "completion": "An answer without a question."}"#,                          // 18 empty prompt
    ]

    static let expectedTrain: Set<String> = [
        "3 malformed", "5 empty-field", "6 empty-field", "7 role-order", "7 role-order", "8 duplicate", "9 near-duplicate",
        "10 control-characters", "11 odd-characters", "12 invalid-utf8", "13 role-order", "14 role-order", "15 role-order",
        "16 malformed", "18 empty-field",
    ]

    static let validLines: [String] = [
        #"{"prompt": "what is two plus  two?", "completion": "Four."}"#,                              // 1 leaked (train 2)
        #"{"text": "A completely different held out sentence about mountains and snow."}"#,          // 2 clean
        #"{"text": "The quick brown fox jumps over the lazy dog near the river bank tonight."}"#,   // 3 near leak
    ]

    static func writeFixture(_ lines: [String]) throws -> String {
        var data = Data()
        for line in lines {
            if line == "INVALID-UTF8" { data.append(contentsOf: Array(#"{"text": "bad "#.utf8) + [0xFF, 0xFE] + Array(#" byte"}"#.utf8)) }
            else { data.append(contentsOf: Array(line.utf8)) }
            data.append(0x0A)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-check-\(UUID().uuidString).jsonl").path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func found(_ issues: [DataIssue], in path: String) -> [String] {
        issues.filter { $0.path == path }.map { "\($0.line) \($0.kind.rawValue)" }
    }

    @Test func findsEveryPlantedDefectAtItsLine() throws {
        let train = try Self.writeFixture(Self.trainLines)
        let valid = try Self.writeFixture(Self.validLines)
        let report = try DataCheck.run(path: train, validPath: valid)
        let inTrain = Self.found(report.issues, in: train)
        #expect(Set(inTrain) == Self.expectedTrain, "\(report.text())")
        #expect(inTrain.filter { $0 == "7 role-order" }.count == 2)  // assistant first, and a trailing user turn
        #expect(Self.found(report.issues, in: valid).sorted() == ["1 leakage", "3 near-leakage"], "\(report.text())")
        let f = report.files[0]
        #expect((f.records, f.text, f.promptCompletion, f.chat, f.malformed, f.blankLines) == (14, 6, 3, 5, 3, 1))
        #expect((f.exactDuplicates, f.nearDuplicates) == (1, 1))
        #expect(!report.passed)
        // Severity: what makes an example useless is an error; duplicates and odd text are warnings.
        let severity = Dictionary(report.issues.map { ("\($0.path == valid ? "v" : "t")\($0.line) \($0.kind.rawValue) \($0.severity.rawValue)", 1) },
                                  uniquingKeysWith: +)
        for key in ["t3 malformed error", "t6 empty-field error", "t8 duplicate warning", "t9 near-duplicate warning",
                    "t12 invalid-utf8 error", "t18 empty-field warning", "t7 role-order warning", "v1 leakage error", "v3 near-leakage warning"] {
            #expect(severity[key] != nil, "missing \(key)")
        }
        #expect(report.issues.first { $0.line == 9 }?.message.contains("line 1") == true)
        #expect(report.issues.first { $0.line == 10 }?.message.contains("U+0007") == true)
    }

    @Test func cleanFilesHaveNoFindings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-check-demo-\(UUID().uuidString)")
        _ = try DemoTask.write(to: dir, trainCount: 200, validCount: 50, seed: 3)
        let report = try DataCheck.run(path: dir.appendingPathComponent("train.jsonl").path,
                                       validPath: dir.appendingPathComponent("valid.jsonl").path)
        #expect(report.issues.isEmpty, "\(report.text())")
        #expect(report.passed && report.files.map(\.chat) == [200, 50])
        let text = try Self.writeFixture([Self.trainLines[0], Self.trainLines[1], Self.trainLines[16]])
        #expect(try DataCheck.run(path: text).issues.isEmpty)
    }

    @Test func tokenLengthsAgainstSeq() throws {
        // Byte tokenizer: a text of n bytes is n + 1 tokens (EOS); seq 4 keeps 5.
        let path = try Self.writeFixture([#"{"text": "abcd"}"#, #"{"text": "abcdefgh"}"#, #"{"text": "ab"}"#,
                                          #"{"prompt": "abcdef", "completion": "x"}"#])
        let report = try DataCheck.run(path: path, options: .init(tokenizer: try F.plainTokenizer(), seq: 4))
        let t = try #require(report.files[0].tokens)
        #expect((t.examples, t.min, t.max, t.truncated) == (4, 3, 9, 2))
        // Kept tokens 5 + 5 + 3 + 5; loss on all but the first of each text, and on none of the cut prompt/completion.
        #expect((t.tokens, t.lossTokens, t.withoutLoss) == (18, 10, 1))
        #expect(Self.found(report.issues, in: path).sorted() == ["2 truncated", "4 no-loss"])
        #expect(report.issues.first { $0.kind == .truncated }?.message.contains("lines 2, 4") == true)
        #expect(report.passed)
    }

    @Test func minHashFindsNearButNotDistant() {
        let m = MinHash(threshold: 0.8)
        #expect((m.bands, m.rows) == (25, 5))
        let a = m.shingles("one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
        let b = m.shingles("one two three four five six seven eight nine ten eleven twelve thirteen fifteen")
        let c = m.shingles("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi")
        #expect(abs(MinHash.jaccard(a, b) - 11.0 / 13.0) < 1e-12)
        #expect(m.similarPairs(shingleSets: [a, b, c], threshold: 0.8).map { [$0.0, $0.1] } == [[0, 1]])
        #expect(m.signature(a) == m.signature(a) && m.signature(a) != m.signature(c))
        #expect(MinHash(threshold: 0.5).rows == 2 && MinHash(threshold: 0.9).rows == 8)
    }

    @Test func dedupRemovesDuplicatesAndKeepsTheRest() throws {
        let input = try Self.writeFixture(Self.trainLines)
        let output = input + ".dedup"
        let exact = try DataDedup.run(input: input, output: output)
        #expect(exact.exactRemoved == [8] && exact.nearRemoved.isEmpty && exact.malformedKept == 3 && exact.kept == 16)
        // Line 12's bytes are not UTF-8 and are copied as they were.
        func read() throws -> String { String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self) }
        var lines = try read().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 17 && lines.last == "")  // 16 lines, each ending in a newline; the blank line went
        #expect(!lines.contains(Substring(Self.trainLines[7])) && lines.contains(Substring(Self.trainLines[8])))
        let near = try DataDedup.run(input: input, output: output, nearThreshold: 0.8)
        #expect(near.exactRemoved == [8] && near.nearRemoved == [9] && near.kept == 15)
        lines = try read().split(separator: "\n")
        #expect(lines.first == Substring(Self.trainLines[0]) && !lines.contains(Substring(Self.trainLines[8])))
        // The cleaned file has no duplicates left.
        let again = try DataCheck.run(path: output)
        #expect(again.files[0].exactDuplicates == 0 && again.files[0].nearDuplicates == 0)
        #expect(throws: TinhError.self) { try DataDedup.run(input: input, output: input) }
    }

    @Test func commandLineReportsAndExitCodes() throws {
        let train = try Self.writeFixture(Self.trainLines)
        let bad = try TestProcess.run([TestProcess.tinh, "data", "check", train], timeout: 60)
        #expect(bad.status == 1, "\(bad.output)")
        for line in [3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18] {
            #expect(bad.output.contains("\(train):\(line): "), "line \(line) missing:\n\(bad.output)")
        }
        let json = try TestProcess.run([TestProcess.tinh, "data", "check", train, "--json"], timeout: 60)
        let decoded = try JSONSerialization.jsonObject(with: try #require(TestProcess.jsonObject(in: json.output))) as? [String: Any]
        #expect((decoded?["issues"] as? [Any])?.count == Self.expectedTrain.count + 1)  // line 7 has two
        let clean = try Self.writeFixture([Self.trainLines[0], Self.trainLines[16]])
        let ok = try TestProcess.run([TestProcess.tinh, "data", "check", clean, "--model", "tiny", "--seq", "8"], timeout: 60)
        #expect(ok.status == 0 && ok.output.contains("0 error(s)"), "\(ok.output)")
        #expect(ok.output.contains("--seq 8: 2 of 2 record(s) longer than 9 tokens"), "\(ok.output)")
        let dedup = try TestProcess.run([TestProcess.tinh, "data", "dedup", train, train + ".out", "--near", "0.8"], timeout: 60)
        #expect(dedup.status == 0 && dedup.output.contains("removed 1 exact and 1 near"), "\(dedup.output)")
    }
}
