import Foundation
import Testing
@testable import Tinh

/// `tinh train` refuses bad input with a clear message (exit 1, or 64 for a flag the parser
/// refuses: an unknown method, or a method flag the method does not take), never a trap or a hang.
@Suite struct TrainBadInputTests {
    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bad-\(UUID().uuidString).jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func train(_ data: String, _ extra: [String] = [], out: String? = nil) throws -> TestProcess.Result {
        let out = out ?? FileManager.default.temporaryDirectory.appendingPathComponent("tinh-bad-out-\(UUID().uuidString)").path
        return try TestProcess.run([TestProcess.tinh, "train", "--model", "tiny", "--data", data, "--out", out,
                                    "--steps", "2", "--batch", "2", "--seq", "32"] + extra, timeout: 60)
    }

    static let good = (0..<6).map { "{\"text\": \"line \($0) of good data\"}" }.joined(separator: "\n") + "\n"

    @Test func malformedLineNamesFileAndLine() throws {
        let data = try file(Self.good + "{\"text\": \"unterminated\n")
        let r = try train(data)
        #expect(r.status == 1 && r.output.contains("\(data):7: not valid JSON"), "\(r.output)")
        let skipped = try train(data, ["--skip-bad-lines"])
        #expect(skipped.status == 0, "\(skipped.output)")
    }

    @Test(arguments: [
        ("", [String](), "no examples"),
        ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", [], "masked"),
        (good, ["--rank", "100"], "--rank 100 is larger than"),
        (good, ["--targets", "q,attn"], "unknown target 'attn'"),
        (good, ["--batch", "3", "--grad-accum", "2"], "does not split into --grad-accum"),
        (good, ["--method", "magic"], "The value 'magic' is invalid for '--method <method>'"),
        (good, ["--layers", "7"], "block 7 does not exist"),
        (good, ["--init-r", "6"], "--init-r applies to --method adalora only"),
        (good, ["--target-r", "2"], "--target-r applies to --method adalora only (this run uses lora)"),
        (good, ["--method", "adalora", "--init-r", "4", "--rank", "6"], "disagree"),
        (good, ["--method", "adalora", "--init-r", "4", "--target-r", "6"], "--target-r must be between 1 and --init-r (4)"),
        (good, ["--method", "adalora", "--tinit", "1", "--tfinal", "1"], "needs --tinit (1) + --tfinal (1) below --steps (2)"),
        (good, ["--method", "dora", "--init", "pissa"], "--init applies to --method lora, lora-plus only (this run uses dora)"),
        (good, ["--init", "olora"], "the only choice is pissa"),
    ])
    func badSettingsAreClearErrors(data: String, extra: [String], message: String) throws {
        let r = try train(try file(data), extra)
        let parseError = message.contains("applies to --method") || message.contains("is invalid for")
        #expect(r.status == (parseError ? 64 : 1), "exit \(r.status): \(r.output)")
        #expect(r.output.contains(message), "\(r.output)")
    }

    @Test func unwritableOutIsAClearError() throws {
        let r = try train(try file(Self.good), out: "/proc/tinh-cannot-write-here")
        #expect(r.status == 1 && r.output.contains("--out"), "\(r.output)")
    }

    @Test func unwritableOutFailsEveryRankWithoutHanging() throws {
        let r = try TestProcess.launch(ranks: 2, ["train", "--model", "tiny", "--data", try file(Self.good), "--out", "/proc/tinh-no",
                                                  "--steps", "2", "--batch", "2", "--seq", "32"], timeout: 60)
        #expect(!r.timedOut && r.status != 0)
        #expect(r.output.contains("failed on rank 0"), "\(r.output)")
    }
}
