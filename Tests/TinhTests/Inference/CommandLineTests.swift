import Foundation
import Testing
@testable import Tinh

/// The model commands end to end through the built `tinh`, on the tiny random model.
@Suite struct CommandLineTests {
    func tinh(_ args: [String]) throws -> TestProcess.Result {
        try TestProcess.run([TestProcess.tinh] + args, timeout: 120)
    }

    func textFile(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-cli-\(UUID().uuidString).jsonl").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func logitsJSONMatchesTheLibrary() throws {
        // The library's default GEMM on both sides (the CLI would pick oneDNN at one thread), so
        // near-tied logits cannot swap their order between the two.
        let result = try TestProcess.run([TestProcess.tinh, "logits", "--model", "tiny:3", "--prompt", "hello tinh", "--top-k", "3", "--json"],
                                         environment: ["TINH_F32_GEMM": "openblas"], timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let expected = try LogitsReport.compute(ModelSource.load("tiny:3"), prompt: "hello tinh", topK: 3)
        #expect(json["token_ids"] as? [Int] == expected.tokenIds.map(Int.init))
        let positions = try #require(json["positions"] as? [[String: Any]])
        #expect(positions.count == expected.positions.count)
        #expect(positions.first?["top_ids"] as? [Int] == expected.positions[0].topIds.map(Int.init))
    }

    @Test func inspectAndGenerateRun() throws {
        let inspect = try tinh(["inspect", "tiny", "--json"])
        #expect(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.output.contains("\"parameters\""))
        let generate = try tinh(["generate", "--model", "tiny:1", "--prompt", "abc", "--max-tokens", "5", "--temperature", "0.8", "--seed", "2"])
        #expect(generate.status == 0 && generate.output.hasPrefix("abc"), "\(generate.output)")
        let chat = try tinh(["generate", "--model", "tiny:1", "--chat", "--prompt", "hi", "--max-tokens", "3"])
        #expect(chat.status == 0, "\(chat.output)")
    }

    /// Eval scores the same batches of --batch examples (same shapes) on 1 rank and on 2 ranks
    /// (batch i on rank i mod 2), with the same library and one thread each, so every batch's loss
    /// is the same bits on both. Only the Double sums of the 5 batch losses differ in order
    /// (b₀+…+b₄ against (b₀+b₂+b₄)+(b₁+b₃)): each within γ₅·Σbᵢ of the exact sum in Double
    /// (u = 2⁻⁵³), so within 2γ₅·Σbᵢ of each other, plus the division by the token count. On
    /// Zen 3 this test once failed at 1e-9 relative because the lone process ran OpenBLAS at 2
    /// threads and the ranks oneDNN at 1 (now pinned).
    @Test(arguments: FrozenGEMM.usable) func evalOnTwoRanksEqualsOneRank(gemm: FrozenGEMM) throws {
        let data = try textFile((0..<9).map { "{\"text\": \"example number \($0) of the eval set\"}" })
        let args = ["eval", "--model", "tiny:5", "--data", data, "--seq", "32", "--batch", "2", "--json"]
        let env = TestProcess.sameArithmetic(gemm)
        let one = try TestProcess.run([TestProcess.tinh] + args, environment: env, timeout: 120)
        let two = try TestProcess.launch(ranks: 2, args, environment: env)
        #expect(one.status == 0 && two.status == 0, "\(one.output)\n\(two.output)")
        let a = try JSONDecoder().decode(EvalResult.self, from: try #require(TestProcess.jsonObject(in: one.output)))
        let b = try JSONDecoder().decode(EvalResult.self, from: try #require(TestProcess.jsonObject(in: two.output)))
        #expect(a.tokens == b.tokens && a.tokens > 0)
        let batches = 5, u = RoundingBound.uDouble
        let bound = (2 * RoundingBound.gamma(batches, unit: u) + 2 * u) * abs(a.loss)
        #expect(abs(a.loss - b.loss) <= bound, "\(gemm): \(a.loss) vs \(b.loss), bound \(bound)")
        #expect(abs(a.loss - log(512)) < 0.5, "a random tiny model is near uniform: \(a.loss)")
    }

    @Test(arguments: [
        (["inspect", "/nonexistent/model.gguf"], "no such file"),
        (["logits", "--model", "tiny:x", "--prompt", "a"], "non-negative integer seed"),
        (["generate", "--model", "tiny", "--prompt", "a", "--top-p", "0"], "--top-p"),
        (["eval", "--model", "tiny", "--data", "/nonexistent.jsonl"], "cannot read"),
    ])
    func badInputIsAClearError(args: [String], message: String) throws {
        let result = try tinh(args)
        #expect(result.status == 1, "exit \(result.status): \(result.output)")
        #expect(result.output.contains("tinh: ") && result.output.contains(message), "\(result.output)")
    }

    @Test func truncatedModelFileIsAnError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-cut-\(UUID().uuidString).gguf").path
        try Data("GGUF".utf8 + [3, 0, 0, 0, 9]).write(to: URL(fileURLWithPath: path))
        let result = try tinh(["inspect", path])
        #expect(result.status == 1 && result.output.contains(path), "\(result.output)")
    }
}
