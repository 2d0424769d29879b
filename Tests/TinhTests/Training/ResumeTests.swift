import Foundation
import Testing
@testable import Tinh

/// A run killed mid-way and resumed ends bit-identical to a run never stopped, for every method.
@Suite(.serialized) struct ResumeTests {
    /// For VeRA the resumed process regenerates the projections from the seed: the exported
    /// vera_A/vera_B must come out byte-identical too.
    func args(_ out: String, _ data: String, method: String = "lora") -> [String] {
        ["train", "--model", "tiny:4", "--data", data, "--out", out, "--steps", "12", "--batch", "4", "--seq", "48",
         "--lr", "5e-3", "--targets", "q,v,down", "--save-every", "3", "--keep-last", "2", "--warmup", "2"]
            + DataParallelTests.methodArgs(method)  // later options win
    }

    func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-resume-\(name)-\(UUID().uuidString)").path
    }

    @Test(arguments: DataParallelTests.methods) func killedAtStepSevenAndResumedIsBitIdentical(method: String) throws {
        let dataDir = URL(fileURLWithPath: temp("data"))
        try DemoTask.write(to: dataDir, trainCount: 40, validCount: 4, seed: 2)
        let data = dataDir.appendingPathComponent("train.jsonl").path
        let whole = temp("whole"), cut = temp("cut")
        let a = try TestProcess.run([TestProcess.tinh] + args(whole, data, method: method))
        #expect(a.status == 0, "\(a.output)")

        let killed = try TestProcess.run([TestProcess.tinh] + args(cut, data, method: method), environment: ["TINH_TEST_KILL_AFTER_STEP": "7"])
        #expect(killed.status != 0, "the run was meant to die: \(killed.output)")
        #expect(try String(contentsOfFile: cut + "/checkpoints/latest", encoding: .utf8).contains("step-00000006"))
        #expect(!FileManager.default.fileExists(atPath: cut + "/adapter"), "no export from a killed run")

        let resumed = try TestProcess.run([TestProcess.tinh] + args(cut, data, method: method) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resuming after step 6"), "\(resumed.output)")
        let x = try Data(contentsOf: URL(fileURLWithPath: whole + "/adapter/adapter_model.safetensors"))
        let y = try Data(contentsOf: URL(fileURLWithPath: cut + "/adapter/adapter_model.safetensors"))
        #expect(x == y, "resumed adapter differs from the uninterrupted run's")
        let steps = try String(contentsOfFile: cut + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count
        #expect(steps == 12, "metrics.jsonl has one line per step after the resume, got \(steps)")
        #expect(Checkpoints.complete(in: URL(fileURLWithPath: cut + "/checkpoints")).map(\.step).sorted() == [9, 12])
    }

    @Test func resumingOnAnotherWorldSizeSaysSo() throws {
        let dataDir = URL(fileURLWithPath: temp("data2"))
        try DemoTask.write(to: dataDir, trainCount: 40, validCount: 4, seed: 3)
        let data = dataDir.appendingPathComponent("train.jsonl").path
        let out = temp("world")
        _ = try TestProcess.run([TestProcess.tinh] + args(out, data), environment: ["TINH_TEST_KILL_AFTER_STEP": "4"])
        let resumed = try TestProcess.launch(ranks: 2, args(out, data) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("written by 1 rank(s), now 2"), "\(resumed.output)")
    }
}
