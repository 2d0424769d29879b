import Foundation
import Testing
@testable import Tinh

/// Bucketed all-reduce overlapped with backward: the bucket plan, when buckets start, and that
/// overlapped, single-bucket and fused reductions train bit-identical adapters.
@Suite(.serialized) struct OverlapTests {
    @Test func bucketsAreWholeLayersFromTheEndOfTheBuffer() {
        // Layers 0..3 of 10 floats each (two slots per layer), plus 4 floats of no layer up front.
        var segments: [(layer: Int, range: Range<Int>)] = [(GradientBuckets.afterBackward, 0..<4)]
        for l in 0..<4 { segments += [(l, 4 + 10 * l ..< 9 + 10 * l), (l, 9 + 10 * l ..< 14 + 10 * l)] }
        let plan = GradientBuckets(segments: segments, count: 44, bucketFloats: 15)
        #expect(plan.buckets.map(\.range) == [24..<44, 4..<24, 0..<4])
        #expect(plan.buckets.map(\.readyAfterLayer) == [2, 0, GradientBuckets.afterBackward])
        let one = GradientBuckets(segments: segments, count: 44, bucketFloats: 0)
        #expect(one.buckets == [.init(range: 0..<44, readyAfterLayer: GradientBuckets.afterBackward)])
        let perLayer = GradientBuckets(segments: Array(segments.dropFirst()).map { ($0.layer, ($0.range.lowerBound - 4)..<($0.range.upperBound - 4)) },
                                       count: 40, bucketFloats: 1)
        #expect(perLayer.buckets.map(\.range) == [30..<40, 20..<30, 10..<20, 0..<10])
        #expect(perLayer.buckets.map(\.readyAfterLayer) == [3, 2, 1, 0])
        #expect(GradientBuckets(segments: [], count: 0, bucketFloats: 10).buckets.isEmpty)
    }

    /// A job of one rank that checks every gradient bucket: the values it was started with must
    /// still be there when it completes (a bucket started before its layers were final would
    /// have sent stale values), and it records when each bucket started.
    final class CheckingCommunicator: Communicator {
        let model: DecoderModel
        var starts: [(count: Int, duringBackward: Bool)] = []
        var changedWhileInFlight = 0
        init(model: DecoderModel) { self.model = model }
        var rank: Int { 0 }
        var size: Int { 1 }
        var localRank: Int { 0 }
        var localSize: Int { 1 }
        var processorName: String { "test" }
        var libraryVersion: String { "test" }
        func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {}
        func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction {
            guard let floats = buffer as? UnsafeMutableBufferPointer<Float> else { return CompletedReduction() }
            starts.append((floats.count, model.onLayerBackwardDone != nil))
            return Checked(buffer: floats, snapshot: Array(floats), owner: self)
        }
        func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
        func barrier() throws {}
        func wallTime() -> Double { monotonicSeconds() }
        func abort(message: String, code: Int32) -> Never { fatalError(message) }

        final class Checked: PendingReduction {
            let buffer: UnsafeMutableBufferPointer<Float>, snapshot: [Float]
            unowned let owner: CheckingCommunicator
            init(buffer: UnsafeMutableBufferPointer<Float>, snapshot: [Float], owner: CheckingCommunicator) {
                self.buffer = buffer; self.snapshot = snapshot; self.owner = owner
            }
            func test() throws -> Bool { false }  // stays in flight until wait: backward must not touch it meanwhile
            func wait() throws { if Array(buffer) != snapshot { owner.changedWhileInFlight += 1 } }
        }
    }

    @Test func bucketsStartDuringTheLastMicroBatchsBackwardWithFinalGradients() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-overlap-\(UUID().uuidString)")
        try DemoTask.write(to: dir, trainCount: 16, validCount: 0, seed: 1)
        var config = TrainConfig(model: "tiny:2", data: dir.appendingPathComponent("train.jsonl").path, out: dir.appendingPathComponent("out").path,
                                 adapter: AdapterConfig(method: .lora, rank: 4, targets: ["q", "k", "v", "o", "gate", "up", "down"], seed: 5))
        config.steps = 2; config.batch = 4; config.gradAccum = 2; config.seq = 32; config.validFraction = 0
        config.bucketMB = 1e-6  // one bucket per layer
        let loaded = try ModelSource.load("tiny:2")
        let comm = CheckingCommunicator(model: loaded.model)
        let trainer = try Trainer(config: config, comm: comm, loaded: loaded)
        let layers = loaded.config.numLayers
        #expect(trainer.reducer.plan.buckets.count == layers)
        try trainer.run()
        // Per step: one start per layer's bucket, all from inside the last micro-batch's backward.
        #expect(comm.starts.count == 2 * layers)
        #expect(comm.starts.allSatisfy { $0.duringBackward }, "\(comm.starts)")
        #expect(comm.starts.map(\.count).reduce(0, +) == 2 * trainer.adapters.parameters.count)
        #expect(comm.changedWhileInFlight == 0, "a bucket's gradients changed after its all-reduce started")
        let summary = try #require(trainer.summary)
        #expect(summary.overlap && summary.buckets == layers && summary.medianComputeSeconds > 0)
    }

    /// Trains with `extra` on `ranks` ranks; returns the final checkpoint's adapter and optimizer bytes.
    func checkpointBytes(ranks: Int, _ extra: [String], environment: [String: String] = [:]) throws -> [Data] {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-overlap-\(UUID().uuidString)").path
        let args = ["train", "--model", "tiny:2", "--data", DataParallelTests.data, "--out", out, "--steps", "3", "--batch", "12",
                    "--grad-accum", "2", "--seq", "48", "--targets", "q,k,v,o,gate,up,down", "--rank", "4", "--lr", "5e-3",
                    "--valid-fraction", "0"] + extra
        let result = ranks == 1
            ? try TestProcess.run([TestProcess.tinh] + args, environment: environment, timeout: 120)
            : try TestProcess.run([TestProcess.packageRoot.appendingPathComponent("launch/run").path, "-n", "\(ranks)", "--"] + args,
                                  environment: environment, timeout: 120)
        #expect(result.status == 0, "\(ranks) rank(s) \(extra):\n\(result.output)")
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let line = try #require(metrics.first)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["compute_seconds", "allreduce_seconds", "exposed_comm_seconds"] { #expect(first[key] is Double, "\(key) in \(first)") }
        let step = out + "/checkpoints/step-00000003/"
        return try ["adapter.safetensors", "optimizer.safetensors"].map { try Data(contentsOf: URL(fileURLWithPath: step + $0)) }
    }

    /// Gradient checkpointing re-runs each block's forward while the buckets of the layers above it
    /// are in flight, on every rank, with gradient accumulation: the trained bytes must not change.
    @Test(arguments: [1, 2]) func gradientCheckpointingTrainsIdenticalBytes(ranks: Int) throws {
        let plain = try checkpointBytes(ranks: ranks, ["--bucket-mb", "0.000001"])
        let recomputed = try checkpointBytes(ranks: ranks, ["--bucket-mb", "0.000001", "--gradient-checkpointing"])
        #expect(recomputed == plain, "\(ranks) rank(s): gradient checkpointing changed the trained adapter")
    }

    /// Overlapped buckets (one per layer), one bucket, and the fused blocking all-reduce give the same
    /// bytes. With 3 ranks, Open MPI's default algorithms differ between blocking and non-blocking
    /// all-reduce (and ring ones sum each chunk in another order), so the test pins algorithms whose
    /// per-element order does not depend on the message: recursive doubling on both sides.
    @Test(arguments: [1, 2, 3]) func overlappedBucketedAndFusedAllreduceTrainIdenticalBytes(ranks: Int) throws {
        let env = ranks < 3 ? [:] : TestProcess.recursiveDoubling
        let fused = try checkpointBytes(ranks: ranks, ["--no-overlap"], environment: env)
        let perLayer = try checkpointBytes(ranks: ranks, ["--bucket-mb", "0.000001"], environment: env)
        #expect(perLayer == fused, "\(ranks) rank(s): per-layer buckets differ from the fused all-reduce")
        if ranks == 3 {
            let single = try checkpointBytes(ranks: ranks, ["--bucket-mb", "100"], environment: env)
            #expect(single == fused, "\(ranks) rank(s): one bucket differs from the fused all-reduce")
        }
    }
}
