import Tinh
import Foundation

/// Training-step speed of the same model with a Float32 and a bf16 frozen base, in one process:
/// both models get the same LoRA adapters and the same random tokens, and their steps alternate,
/// so a busy machine slows both alike and the ratio stays meaningful (`tinh gemm-bench --model M`).
public enum BasePrecisionBenchmark {
    public struct Row: Codable, Sendable {
        public var precision: String
        /// Median seconds of one forward + backward (dX and adapter gradients), and its spread.
        public var stepSeconds: Double
        public var spreadSeconds: Double
        public var tokensPerSecond: Double
    }

    /// Loads `spec` once per precision, attaches `adapter` to each and times `iterations` steps of
    /// `batch` × `seq` random tokens (every position in the loss) per precision, alternating, after
    /// `warmup` steps each. `headChunkRows` is the models' fused loss-path chunk (nil: the default).
    public static func run(spec: String, precisions: [BasePrecision] = [.f32, .bf16], adapter: AdapterConfig,
                           batch: Int, seq: Int, iterations: Int, warmup: Int = 1, seed: UInt64 = 0,
                           gemm: FrozenGEMM = .openblas, headChunkRows: Int? = nil) throws -> [Row] {
        guard iterations > 0, warmup >= 0, batch > 0, seq > 1 else {
            throw TinhError.invalidInput("benchmark needs iterations > 0, batch > 0 and seq > 1")
        }
        let models = try precisions.map { try ModelSource.load(spec, basePrecision: $0, gemm: gemm).model }
        if let headChunkRows { for model in models { model.headChunkRows = headChunkRows } }
        let adapters = try models.map { try AdapterSet(model: $0, config: adapter) }
        let config = models[0].config
        var rng = SeededGenerator(seed: seed)
        let n = batch * seq
        let tokens = (0..<n).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let targets = (0..<n).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        func step(_ model: DecoderModel) throws {
            let r = try model.forward(tokens: tokens, targets: targets, batch: batch, seq: seq)
            model.backward(lossScale: 1 / Float(max(r.count, 1)))
        }
        var times = [[Double]](repeating: [], count: models.count)
        for i in 0..<(warmup + iterations) {
            for (m, model) in models.enumerated() {
                let t0 = monotonicSeconds()
                try step(model)
                if i >= warmup { times[m].append(monotonicSeconds() - t0) }
            }
        }
        withExtendedLifetime(adapters) {}
        return zip(precisions, times).map { p, t in
            let sorted = t.sorted(), median = sorted[sorted.count / 2]
            return Row(precision: p.rawValue, stepSeconds: median, spreadSeconds: sorted.last! - sorted.first!,
                       tokensPerSecond: Double(n) / median)
        }
    }
}
