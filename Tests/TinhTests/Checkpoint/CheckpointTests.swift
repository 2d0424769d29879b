import Foundation
import Testing
@testable import Tinh

@Suite struct CheckpointTests {
    typealias F = CheckpointFixture

    func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

    @Test func roundTripIsBitExact() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        let opt = F.trainedOptimizer(set)
        let state = F.trainerState(step: 3)
        let dir = try Checkpoints.save(step: 3, adapters: set, optimizer: opt, trainerState: state, runDirectory: run, keepLast: 2)
        #expect(dir.lastPathComponent == "step-00000003")
        #expect(try String(contentsOf: run.appendingPathComponent("checkpoints/latest"), encoding: .utf8) == "step-00000003\n")
        for file in ["adapter.safetensors", "optimizer.safetensors", "state.json", "COMPLETE"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
        }

        let (_, fresh) = try F.adaptedModel(fillSeed: 99)
        let freshOpt = AdamW(parameterCount: fresh.parameters.count, beta2: 0.995)
        let (step, restored) = try Checkpoints.load(from: run, adapters: fresh, optimizer: freshOpt)
        #expect(step == 3)
        #expect(restored == state, "trainer state comes back byte for byte")
        #expect(bits(fresh.parameters.values) == bits(set.parameters.values))
        #expect(bits(freshOpt.m) == bits(opt.m))
        #expect(bits(freshOpt.v) == bits(opt.v))
        #expect(freshOpt.stepCount == opt.stepCount && opt.stepCount == 3)

        // state.json is plain JSON with the trainer's object inside it.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("state.json"))) as? [String: Any]
        #expect((json?["trainer_state"] as? [String: Any])?["model"] as? String == "tiny")
        #expect(json?["step"] as? Int == 3)
    }

    @Test func failedWriteLeavesThePreviousCheckpoint() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        let opt = F.trainedOptimizer(set)
        try Checkpoints.save(step: 1, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 1), runDirectory: run, keepLast: 3)
        struct DiskFull: Error {}
        #expect(throws: DiskFull.self) {
            try Checkpoints.save(step: 2, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 2),
                                 runDirectory: run, keepLast: 3, beforeMarker: { _ in throw DiskFull() })
        }
        let checkpoints = run.appendingPathComponent("checkpoints")
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted() == ["latest", "step-00000001"],
                "no temporary directory or half checkpoint left")
        let (step, _) = try Checkpoints.load(from: run, adapters: set, optimizer: opt)
        #expect(step == 1)
        // A failed replacement of an existing step puts the old directory back.
        #expect(throws: DiskFull.self) {
            try Checkpoints.save(step: 1, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 5),
                                 runDirectory: run, keepLast: 3, beforeMarker: { _ in throw DiskFull() })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted() == ["latest", "step-00000001"])
        #expect(try Checkpoints.load(from: run, adapters: set, optimizer: opt).trainerState == F.trainerState(step: 1))
    }

    @Test func corruptFileNamesItAndOffersThePrevious() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        let opt = F.trainedOptimizer(set)
        try Checkpoints.save(step: 10, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 10), runDirectory: run, keepLast: 3)
        let last = try Checkpoints.save(step: 20, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 20), runDirectory: run, keepLast: 3)
        let file = last.appendingPathComponent("optimizer.safetensors")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 5] ^= 0x10
        try bytes.write(to: file)
        let before = set.parameters.values.array
        do {
            _ = try Checkpoints.load(from: run, adapters: set, optimizer: opt)
            Issue.record("a damaged checkpoint loaded")
        } catch {
            let message = "\(error)"
            #expect(message.contains(file.path) && message.contains("checksum mismatch"), "\(message)")
            #expect(message.contains("step-00000010: pass it instead"), "\(message)")
        }
        #expect(set.parameters.values.array == before, "a failed load changes nothing")
        #expect(Checkpoints.named("10", run: run) == Checkpoints.named("step-00000010", run: run))
        let (step, state) = try Checkpoints.load(from: Checkpoints.named("step-10", run: run), adapters: set, optimizer: opt)
        #expect(step == 10 && state == F.trainerState(step: 10))
    }

    @Test func keepLastPrunesOldCheckpoints() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        let opt = F.trainedOptimizer(set)
        // A leftover of a writer that was killed (pid 999999 is not running).
        let checkpoints = run.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints.appendingPathComponent(".step-00000009.tmp-999999"), withIntermediateDirectories: true)
        for step in [5, 10, 15, 20] {
            try Checkpoints.save(step: step, adapters: set, optimizer: opt, trainerState: F.trainerState(step: step), runDirectory: run, keepLast: 2)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted() == ["latest", "step-00000015", "step-00000020"])
        // Re-saving an existing step (after resuming from an earlier one) replaces it.
        try Checkpoints.save(step: 15, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 99), runDirectory: run, keepLast: 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted() == ["latest", "step-00000015", "step-00000020"])
        let (step, state) = try Checkpoints.load(from: run, adapters: set, optimizer: opt)
        #expect(step == 15 && state == F.trainerState(step: 99), "latest names the checkpoint written last")
    }

    @Test func mismatchedAdapterSettingsAreClearErrors() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        try Checkpoints.save(step: 1, adapters: set, optimizer: F.trainedOptimizer(set), trainerState: F.trainerState(step: 1), runDirectory: run, keepLast: 1)
        var other = F.adapterConfig
        other.rank = 2
        other.targets = ["q", "v"]
        let (_, otherSet) = try F.adaptedModel(config: other)
        #expect(throws: TinhError.invalidInput("checkpoint \(run.path)/checkpoints/step-00000001 was saved with other adapter settings: "
            + "rank: checkpoint 4, this run 2; targets: checkpoint q,v,down, this run q,v")) {
            try Checkpoints.load(from: run, adapters: otherSet, optimizer: AdamW(parameterCount: otherSet.parameters.count, beta2: 0.995))
        }
        #expect(throws: TinhError.invalidInput("checkpoint \(run.path)/checkpoints/step-00000001 was saved with AdamW beta2 0.995, this run uses 0.999")) {
            try Checkpoints.load(from: run, adapters: set, optimizer: AdamW(parameterCount: set.parameters.count))
        }
    }

    @Test func missingOrBadInputsAreErrorsNotTraps() throws {
        let run = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: run) }
        let (_, set) = try F.adaptedModel()
        let opt = F.trainedOptimizer(set)
        #expect(throws: TinhError.self) { try Checkpoints.load(from: run, adapters: set, optimizer: opt) }
        #expect(throws: TinhError.invalidInput("checkpoint: the trainer state must be one JSON object")) {
            try Checkpoints.save(step: 1, adapters: set, optimizer: opt, trainerState: Data("[1]".utf8), runDirectory: run, keepLast: 1)
        }
        let dir = try Checkpoints.save(step: 1, adapters: set, optimizer: opt, trainerState: F.trainerState(step: 1), runDirectory: run, keepLast: 1)
        try Data("{\"format\": 3}".utf8).write(to: dir.appendingPathComponent("state.json"))
        #expect(throws: TinhError.self) { try Checkpoints.load(from: dir, adapters: set, optimizer: opt) }
        try Data("step-00000077\n".utf8).write(to: run.appendingPathComponent("checkpoints/latest"))
        do {
            _ = try Checkpoints.load(from: run, adapters: set, optimizer: opt)
            Issue.record("loaded a missing checkpoint")
        } catch {
            #expect("\(error)".contains("step-00000077: named by"), "\(error)")
        }
    }
}
