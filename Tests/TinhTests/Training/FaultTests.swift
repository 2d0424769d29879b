import Foundation
import Testing
@testable import Tinh

/// Faults during a run: a dead or stalled rank ends the job (never a hang), ranks with different
/// model files fail at start, non-finite steps are skipped then stop the run, and a full disk
/// during a checkpoint stops the run with the previous checkpoint intact.
@Suite struct FaultTests {
    static let data: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-fault-data-\(UUID().uuidString)")
        try! DemoTask.write(to: dir, trainCount: 40, validCount: 4, seed: 6)
        return dir.appendingPathComponent("train.jsonl").path
    }()

    func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tinh-fault-\(name)-\(UUID().uuidString)").path
    }

    func args(_ out: String, steps: Int = 6) -> [String] {
        ["train", "--model", "tiny", "--data", Self.data, "--out", out, "--steps", "\(steps)", "--batch", "4", "--seq", "48", "--save-every", "2"]
    }

    func launch(_ arguments: [String], _ environment: [String: String], timeout: Double = 90) throws -> TestProcess.Result {
        try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "2", "--"] + arguments,
                            environment: environment, timeout: timeout)
    }

    @Test func killedRankEndsTheJobNamingIt() throws {
        let r = try launch(args(temp("kill")), ["TINH_TEST_KILL_RANK": "1:1"])
        #expect(!r.timedOut && r.status != 0, "exit \(r.status): \(r.output)")
        #expect(r.output.contains("process rank 1") && r.output.contains("signal 9"), "\(r.output)")
        #expect(r.seconds < 60, "took \(r.seconds) s")
    }

    @Test func stalledRankIsReportedAndTheJobAborts() throws {
        let r = try launch(args(temp("stall")) + ["--collective-timeout", "2"], ["TINH_TEST_STALL": "1:1:120"])
        #expect(!r.timedOut, "\(r.output)")
        #expect(r.status == CollectiveWatchdog.exitCode, "exit \(r.status): \(r.output)")
        #expect(r.output.contains("rank 0/2") && r.output.contains("during the gradient all-reduce of step 1")
                && r.output.contains("--collective-timeout 2"), "\(r.output)")
    }

    @Test func modelFileHashSeesOneChangedByte() throws {
        let a = temp("a.gguf"), b = temp("b.gguf")
        var bytes = [UInt8](repeating: 7, count: 5000)
        try Data(bytes).write(to: URL(fileURLWithPath: a))
        bytes[4321] = 8
        try Data(bytes).write(to: URL(fileURLWithPath: b))
        #expect(try ModelFileHash.hash(file: a) != ModelFileHash.hash(file: b))
        #expect(try ModelFileHash.hash(file: a) == ModelFileHash.hash(file: a))
    }

    /// NaN in one rank's gradient: every rank skips the step (decided after the all-reduce) and
    /// counts it; three in a row stop the run naming the steps, the tensor (--debug) and the checkpoint.
    @Test func nonFiniteStepsAreSkippedThenStopTheRun() throws {
        let out = temp("nan")
        let r = try launch(args(out, steps: 8) + ["--debug"], ["TINH_TEST_NAN_AT_STEP": "1:1,3:1,4:1,5:1"])
        #expect(!r.timedOut && r.status == 1, "exit \(r.status): \(r.output)")
        #expect(r.output.contains("stopping after step 6: steps 4-6 had a non-finite gradient"), "\(r.output)")
        #expect(r.output.contains("first non-finite value: gradient of base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"), "\(r.output)")
        #expect(r.output.contains("last good checkpoint: \(out)/checkpoints/step-00000004"), "\(r.output)")
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let skipped = lines.filter { $0.contains("\"skipped\":true") }.count
        #expect(skipped == 3, "steps 2, 4 and 5 logged as skipped: \(lines)")  // step 6 stopped the run before its line
    }

    @Test func skippedStepLeavesTheWeightsAlone() throws {
        // One NaN step at the very start: the adapter after it equals the initial adapter, so the
        // checkpoint after step 1 holds B = 0 exactly (LoRA's init).
        let out = temp("nan1")
        let r = try TestProcess.run([TestProcess.tinh] + args(out, steps: 2) + ["--save-every", "1"], environment: ["TINH_TEST_NAN_AT_STEP": "0"])
        #expect(r.status == 0 && r.output.contains("SKIPPED"), "\(r.output)")
        let file = try SafeTensorsFile(path: out + "/checkpoints/step-00000001/" + Checkpoints.adapterFile)
        for info in file.tensors where info.name.contains("lora_B") {
            let t = try file.tensor(info.name)
            #expect((0..<t.count).allSatisfy { t.data[$0] == 0 }, "\(info.name) moved in a skipped step")
        }
    }

    @Test func fullDiskDuringACheckpointKeepsThePreviousOne() throws {
        let out = temp("full")
        // config.json (~0.8 KB) and the first checkpoint (~48 KB) fit; the second does not.
        let r = try TestProcess.run([TestProcess.tinh] + args(out), environment: ["TINH_TEST_FAIL_WRITE_AFTER_BYTES": "70000"])
        #expect(r.status == 1, "exit \(r.status): \(r.output)")
        #expect(r.output.contains("cannot write the checkpoint after step 4") && r.output.contains("No space left on device")
                && r.output.contains("the previous checkpoint \(out)/checkpoints/step-00000002 is intact"), "\(r.output)")
        try expectOnlyIntactCheckpoint(out, step: 2)
    }

    /// The same with a real file system that fills up: a 120 KiB tmpfs (needs mount rights; skipped otherwise).
    @Test func fullTmpfsDuringACheckpointKeepsThePreviousOne() throws {
        let mountPoint = temp("tmpfs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try TestProcess.run(["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", mountPoint], timeout: 10)
        guard mounted.status == 0 else {
            print("FaultTests: skipping the tmpfs test, cannot mount here: \(mounted.output)")
            return
        }
        defer { _ = try? TestProcess.run(["umount", mountPoint], timeout: 10) }
        let out = mountPoint + "/run"
        let r = try TestProcess.run([TestProcess.tinh] + args(out) + ["--keep-last", "5"])
        #expect(r.status == 1 && r.output.contains("No space left on device"), "exit \(r.status): \(r.output)")
        try expectOnlyIntactCheckpoint(out, step: 2)
    }

    func expectOnlyIntactCheckpoint(_ out: String, step: Int) throws {
        let dir = out + "/checkpoints"
        #expect(try String(contentsOfFile: dir + "/latest", encoding: .utf8) == Checkpoints.directoryName(step: step) + "\n")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == [Checkpoints.directoryName(step: step), "latest"],
                "temporary files left behind")
        _ = try Checkpoints.read(URL(fileURLWithPath: dir + "/" + Checkpoints.directoryName(step: step)))
    }
}
