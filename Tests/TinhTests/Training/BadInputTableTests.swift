import Foundation
import Testing
@testable import Tinh

/// What each bad input or fault gets from the `tinh` binary: a message fragment and an exit code.
/// README's table (between the bad-input-table markers) must list exactly these rows.
@Suite struct BadInputTableTests {
    struct Row: Sendable, Equatable, CustomStringConvertible {
        var name: String
        var fragment: String
        var exit: Int32
        var description: String { name }
    }

    static let rows: [Row] = [
        Row(name: "truncated model file", fragment: "past the end of the file", exit: 1),
        Row(name: "4 GiB tensor declared in a 1 KiB file", fragment: "needs 4294967296 bytes", exit: 1),
        Row(name: "not a model file", fragment: "not a GGUF file", exit: 1),
        Row(name: "unsupported tensor type", fragment: "has type Q5_K (type id 13); Tinh can dequantize", exit: 1),
        Row(name: "malformed JSONL line", fragment: "train.jsonl:3: not valid JSON", exit: 1),
        Row(name: "empty data", fragment: "no examples", exit: 1),
        Row(name: "oversized sequence", fragment: "--seq 5000 exceeds the context length of tiny (1024 positions)", exit: 1),
        Row(name: "bad flag value", fragment: "--lr must be positive", exit: 1),
        Row(name: "non-numeric flag", fragment: "The value 'many' is invalid for '--steps <steps>'", exit: 64),
        Row(name: "ranks with different settings", fragment: "ranks disagree, so they would not train the same model", exit: 1),
        Row(name: "ranks with different model files", fragment: "model file: rank 0 has in-process tiny, rank 1 has in-process tiny:5", exit: 1),
        Row(name: "dead rank (SIGKILL)", fragment: "exited on signal 9 (Killed)", exit: 137),
        Row(name: "stalled rank", fragment: "another rank is stalled or dead; aborting the job", exit: 124),
        Row(name: "SIGTERM / SIGINT", fragment: "Continue with the same command plus --resume", exit: 75),
        Row(name: "full disk during a checkpoint", fragment: "No space left on device", exit: 1),
        Row(name: "corrupt checkpoint", fragment: "checksum mismatch", exit: 1),
        Row(name: "NaN/Inf in 3 steps in a row", fragment: "had a non-finite gradient and were skipped", exit: 1),
    ]

    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-table-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 24, validCount: 4, seed: 8)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-table-\(UUID().uuidString)-\(name)").path
    }

    func train(_ out: String, data: String = Self.data, steps: Int = 4) -> [String] {
        ["train", "--model", "tiny", "--data", data, "--out", out, "--steps", "\(steps)", "--batch", "2", "--seq", "48", "--save-every", "2"]
    }

    /// A GGUF with enough llama metadata to get to its tensors.
    func model(_ tensor: (inout GGUFBuilder) -> Void) -> GGUFBuilder {
        var g = GGUFBuilder()
        g.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .uint32(8)),
                      ("llama.block_count", .uint32(1)), ("llama.feed_forward_length", .uint32(16)),
                      ("llama.attention.head_count", .uint32(2)), ("llama.vocab_size", .uint32(4))]
        tensor(&g)
        return g
    }

    func run(_ row: Row) throws -> TestProcess.Result {
        let tinh = TestProcess.tinh
        let launch = TestProcess.packageRoot.appendingPathComponent("launch/run").path
        switch row.name {
        case "truncated model file":
            let bytes = model { $0.addF32("token_embd.weight", shape: [4, 8], values: .init(repeating: 0.5, count: 32)) }.bytes()
            return try TestProcess.run([tinh, "inspect", try writeTemp(Array(bytes.dropLast(40)), name: "truncated.gguf")])
        case "4 GiB tensor declared in a 1 KiB file":
            let g = model { $0.add("token_embd.weight", ne: [1 << 20, 1 << 10], type: .f32, data: [UInt8](repeating: 0, count: 64)) }
            return try TestProcess.run([tinh, "inspect", try writeTemp(g.bytes(), name: "liar.gguf")])
        case "not a model file":
            return try TestProcess.run([tinh, "inspect", try writeTemp(Array("{\"text\": \"hello\"}\n".utf8), name: "model.gguf")])
        case "unsupported tensor type":
            let g = model { $0.add("token_embd.weight", ne: [256, 1], type: .q5_K, data: [UInt8](repeating: 0, count: 176)) }
            return try TestProcess.run([tinh, "logits", "--model", try writeTemp(g.bytes(), name: "q5k.gguf"), "--prompt", "hi"])
        case "malformed JSONL line":
            let dir = temp("jsonl")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/train.jsonl"
            try Data("{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"text\": oops}\n".utf8).write(to: URL(fileURLWithPath: path))
            return try TestProcess.run([tinh] + train(temp("out"), data: path))
        case "empty data":
            let path = temp("empty.jsonl")
            try Data().write(to: URL(fileURLWithPath: path))
            return try TestProcess.run([tinh] + train(temp("out"), data: path))
        case "oversized sequence":
            return try TestProcess.run([tinh] + train(temp("out")) + ["--seq", "5000"])
        case "bad flag value":
            return try TestProcess.run([tinh] + train(temp("out")) + ["--lr=-1"])
        case "non-numeric flag":
            return try TestProcess.run([tinh] + train(temp("out")) + ["--steps", "many"])
        case "ranks with different settings":
            return try TestProcess.run([launch, "-n", "2", "--"] + train(temp("out")), environment: ["TINH_TEST_RANK_SEED": "1:9"])
        case "ranks with different model files":
            return try TestProcess.run([launch, "-n", "2", "--"] + train(temp("out")), environment: ["TINH_TEST_RANK_MODEL": "1:tiny:5"])
        case "dead rank (SIGKILL)":
            return try TestProcess.run([launch, "-n", "2", "--"] + train(temp("out")), environment: ["TINH_TEST_KILL_RANK": "1:1"])
        case "stalled rank":
            return try TestProcess.run([launch, "-n", "2", "--"] + train(temp("out")) + ["--collective-timeout", "2"],
                                       environment: ["TINH_TEST_STALL": "1:1:120"])
        case "SIGTERM / SIGINT":
            return try TestProcess.run([launch, "-n", "2", "--"] + train(temp("out")), environment: ["TINH_TEST_SIGNAL": "1:1"])
        case "full disk during a checkpoint":
            return try TestProcess.run([tinh] + train(temp("out")), environment: ["TINH_TEST_FAIL_WRITE_AFTER_BYTES": "2000"])
        case "corrupt checkpoint":
            let out = temp("out")
            let first = try TestProcess.run([tinh] + train(out))
            #expect(first.status == 0, "\(first.output)")
            let victim = URL(fileURLWithPath: out + "/checkpoints/step-00000004/" + Checkpoints.adapterFile)
            var bytes = try Data(contentsOf: victim)
            bytes[bytes.count - 3] ^= 0x10
            try bytes.write(to: victim)
            return try TestProcess.run([tinh] + train(out) + ["--resume"])
        case "NaN/Inf in 3 steps in a row":
            return try TestProcess.run([tinh] + train(temp("out")), environment: ["TINH_TEST_NAN_AT_STEP": "0,1,2"])
        default:
            Issue.record("no way to produce '\(row.name)'")
            return TestProcess.Result(status: -1, output: "", seconds: 0, timedOut: false)
        }
    }

    @Test(arguments: rows) func eachBadInputGetsItsMessageAndExitCode(row: Row) throws {
        let r = try run(row)
        #expect(!r.timedOut, "\(row.name) hung: \(r.output)")
        #expect(r.status == row.exit, "\(row.name): exit \(r.status), expected \(row.exit): \(r.output)")
        #expect(r.output.contains(row.fragment), "\(row.name): no '\(row.fragment)' in: \(r.output)")
    }

    /// README's table rows: `| case | `fragment` | exit |` between the markers.
    static func readmeRows() throws -> [Row] {
        let text = try String(contentsOf: TestProcess.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = text.range(of: "<!-- bad-input-table:start -->"), let end = text.range(of: "<!-- bad-input-table:end -->") else { return [] }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line -> Row? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[2].hasPrefix("`"), let exit = Int32(cells[3]) else { return nil }
            return Row(name: cells[1], fragment: String(cells[2].dropFirst().dropLast()), exit: exit)
        }
    }

    @Test func readmeTableListsExactlyTheTestedCases() throws {
        let readme = try Self.readmeRows()
        #expect(!readme.isEmpty, "README has no bad-input table between the markers")
        for row in readme { #expect(Self.rows.contains(row), "README row not tested as written: \(row.name) | \(row.fragment) | \(row.exit)") }
        for row in Self.rows { #expect(readme.contains(row), "tested case missing from README: \(row.name) | \(row.fragment) | \(row.exit)") }
    }
}
