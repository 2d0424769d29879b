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
            + (method == "delta-lora" ? ["--method", method, "--delta-start", "2", "--delta-lambda", "1"]  // W moves before the kill
                                      : DataParallelTests.methodArgs(method))  // later options win
    }

    func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-resume-\(name)-\(UUID().uuidString)").path
    }

    @Test(arguments: DataParallelTests.methods + ["full"]) func killedAtStepSevenAndResumedIsBitIdentical(method: String) throws {
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
        // The adapter, and for methods that move the base (Delta-LoRA) the moved weights and the merged
        // model; full fine-tuning exports the whole model instead of an adapter.
        let final = "/checkpoints/step-00000012/"
        let export = method == "full" ? "/model/model.safetensors" : "/adapter/adapter_model.safetensors"
        for file in ["/adapter/adapter_model.safetensors", final + Checkpoints.adapterFile, final + Checkpoints.optimizerFile,
                     final + Checkpoints.extraFile, "/merged/model.safetensors", "/model/model.safetensors"] {
            let exists = FileManager.default.fileExists(atPath: whole + file)
            #expect(exists == FileManager.default.fileExists(atPath: cut + file), "\(file) in one run only")
            #expect(exists || ![export, final + Checkpoints.adapterFile].contains(file), "\(file) missing")
            guard exists else { continue }
            let x = try Data(contentsOf: URL(fileURLWithPath: whole + file))
            let y = try Data(contentsOf: URL(fileURLWithPath: cut + file))
            let same = x == y  // a Bool: a failed #expect on two Data would diff them byte by byte, for minutes
            #expect(same, "\(method): resumed \(file) differs from the uninterrupted run's")
        }
        if method == "delta-lora" {
            #expect(FileManager.default.fileExists(atPath: cut + final + Checkpoints.extraFile) && FileManager.default.fileExists(atPath: cut + "/merged"))
        }
        let steps = try String(contentsOfFile: cut + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count
        #expect(steps == 12, "metrics.jsonl has one line per step after the resume, got \(steps)")
        #expect(Checkpoints.complete(in: URL(fileURLWithPath: cut + "/checkpoints")).map(\.step).sorted() == [9, 12])
    }

    /// For Delta-LoRA this also shows rank 0 sends the restored weights to rank 1: the ranks'
    /// checksums must agree at every later checkpoint.
    @Test(arguments: ["lora", "delta-lora"]) func resumingOnAnotherWorldSizeSaysSo(method: String) throws {
        let dataDir = URL(fileURLWithPath: temp("data2"))
        try DemoTask.write(to: dataDir, trainCount: 40, validCount: 4, seed: 3)
        let data = dataDir.appendingPathComponent("train.jsonl").path
        let out = temp("world")
        _ = try TestProcess.run([TestProcess.tinh] + args(out, data, method: method), environment: ["TINH_TEST_KILL_AFTER_STEP": "4"])
        let resumed = try TestProcess.launch(ranks: 2, args(out, data, method: method) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("written by 1 rank(s), now 2"), "\(resumed.output)")
        if method == "delta-lora" {
            #expect(resumed.output.contains("all 2 ranks hold identical delta-lora weights"), "\(resumed.output)")
        }
    }

    /// SIGTERM on one rank (what Slurm sends before preemption): all ranks stop after the same step,
    /// rank 0 checkpoints, the job exits 75, and --resume finishes bit-identical to an undisturbed run.
    @Test func signalOnOneRankStopsAllAtTheSameStep() throws {
        let dataDir = URL(fileURLWithPath: temp("data3"))
        try DemoTask.write(to: dataDir, trainCount: 40, validCount: 4, seed: 4)
        let data = dataDir.appendingPathComponent("train.jsonl").path
        let whole = temp("calm"), stopped = temp("stopped")
        #expect(try TestProcess.launch(ranks: 2, args(whole, data)).status == 0)
        let first = try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "2", "--"] + args(stopped, data),
                                        environment: ["TINH_TEST_SIGNAL": "4:1"], timeout: 120)
        #expect(!first.timedOut)
        #expect(first.status == TrainingStopped.exitCode, "\(first.output)")
        #expect(first.output.contains("stopped by a signal after step 5") && first.output.contains("--resume"), "\(first.output)")
        #expect(try String(contentsOfFile: stopped + "/checkpoints/latest", encoding: .utf8).contains("step-00000005"))
        let resumed = try TestProcess.launch(ranks: 2, args(stopped, data) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let x = try Data(contentsOf: URL(fileURLWithPath: whole + "/adapter/adapter_model.safetensors"))
        let y = try Data(contentsOf: URL(fileURLWithPath: stopped + "/adapter/adapter_model.safetensors"))
        let same = x == y  // compare as Bool: a failed Data == Data expectation diffs byte by byte for minutes
        #expect(same, "resumed adapter differs from the undisturbed run's")
    }
}
