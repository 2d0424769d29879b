import Foundation
import Testing
@testable import Tinh

@Suite struct JSONLReaderTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-\(UUID().uuidString).jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func readsAllThreeShapesAndSkipsBlankLines() throws {
        let path = try write("""
            {"text": "xin chào"}

            {"prompt": "2+2=", "completion": "4"}
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}

            """)
        let result = try JSONLReader.read(path: path)
        #expect(result.records.map(\.line) == [1, 3, 4])
        #expect(result.records[0].record == .text("xin chào"))
        #expect(result.records[1].record == .promptCompletion(prompt: "2+2=", completion: "4"))
        #expect(result.records[2].record == .chat([ChatMessage(role: "user", content: "hi"), ChatMessage(role: "assistant", content: "hello")]))
    }

    @Test(arguments: [
        ("{\"text\": 3}", "\"text\" must be a string"),
        ("{\"text\": \"a\"", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("{\"prompt\": \"a\"}", "\"prompt\" and \"completion\" must both be strings"),
        ("{\"messages\": []}", "non-empty array"),
        ("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "role \"robot\""),
        ("{\"input\": \"x\"}", "found keys: input"),
    ])
    func malformedLineNamesFileAndLine(line: String, reason: String) throws {
        let path = try write("{\"text\": \"fine\"}\n\(line)\n")
        do {
            _ = try JSONLReader.read(path: path)
            Issue.record("no error for \(line)")
        } catch let error as TinhError {
            #expect(error.description.hasPrefix("\(path):2: "), "\(error)")
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test func skipBadLinesCountsThem() throws {
        let path = try write("{\"text\": \"a\"}\nnot json\n{\"text\": \"b\"}\n")
        let result = try JSONLReader.read(path: path, skipBadLines: true)
        #expect(result.records.count == 2 && result.skipped.count == 1)
        #expect(result.skipped[0].hasPrefix("\(path):2:"))
    }

    @Test func invalidUTF8AndEmptyFilesAreErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-\(UUID().uuidString).jsonl").path
        try Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(throws: TinhError.invalidInput("\(path):1: not valid UTF-8")) { try JSONLReader.read(path: path) }
        let empty = try write("\n\n")
        #expect(throws: TinhError.self) { try JSONLReader.read(path: empty) }
        #expect(throws: TinhError.self) { try JSONLReader.read(path: "/nonexistent/data.jsonl") }
    }
}
