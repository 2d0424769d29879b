import Tinh
import Foundation

/// Speed of the model's forward and training (forward + backward, dX only) passes on random weights,
/// next to an sgemm probe measured in the same process, so the ratio to the BLAS roofline is what
/// the numbers say. The lead's `tinh bench`/`doctor` can call `run` and print `Result.summary`.
public enum ForwardBenchmark {
    public struct Result: Codable, Sendable {
        public var batch: Int
        public var seq: Int
        public var threads: Int
        /// Model FLOPs per token counted from the shapes (causal attention counts only visible keys).
        public var forwardFlopsPerToken: Double
        public var trainFlopsPerToken: Double
        /// Median seconds per pass, and the spread (max − min) over the timed iterations.
        public var forwardSeconds: Double
        public var forwardSpread: Double
        public var trainSeconds: Double
        public var trainSpread: Double
        public var sgemmGFLOPS: Double
        public var lossFraction: Double

        public var tokens: Int { batch * seq }
        public var forwardTokensPerSecond: Double { Double(tokens) / forwardSeconds }
        public var trainTokensPerSecond: Double { Double(tokens) / trainSeconds }
        public var forwardGFLOPS: Double { forwardFlopsPerToken * forwardTokensPerSecond / 1e9 }
        public var trainGFLOPS: Double { trainFlopsPerToken * trainTokensPerSecond / 1e9 }

        public var summary: String {
            func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
            return """
            batch \(batch) × seq \(seq), \(f(100 * lossFraction, 0))% of positions in the loss, \(threads) BLAS thread(s); sgemm probe \(f(sgemmGFLOPS)) GFLOP/s
            forward:            \(f(forwardTokensPerSecond)) tokens/s  (\(f(forwardSeconds * 1000)) ms/pass ±\(f(forwardSpread * 500)), \
            \(f(forwardGFLOPS)) GFLOP/s = \(f(100 * forwardGFLOPS / sgemmGFLOPS))% of sgemm)
            forward + backward: \(f(trainTokensPerSecond)) tokens/s  (\(f(trainSeconds * 1000)) ms/step ±\(f(trainSpread * 500)), \
            \(f(trainGFLOPS)) GFLOP/s = \(f(100 * trainGFLOPS / sgemmGFLOPS))% of sgemm)
            """
        }
    }

    /// SmolLM2-135M's shape.
    public static let smolLM2 = DecoderConfig(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30,
                                            numHeads: 9, numKVHeads: 3, ropeTheta: 100000, rmsNormEps: 1e-5,
                                            maxPositions: 8192, tieWordEmbeddings: true)

    /// FLOPs per token of a forward (all positions in the loss): 2 per weight of every projection and
    /// the head, plus causal attention (Q·Kᵀ and P·V over the (seq+1)/2 keys a query sees on average).
    /// Training adds backward's dX (same GEMM FLOPs; attention backward is twice its forward).
    public static func flopsPerToken(_ c: DecoderConfig, seq: Int) -> (forward: Double, train: Double) {
        let qDim = Double(c.numHeads * c.headDim), kvDim = Double(c.numKVHeads * c.headDim), h = Double(c.hiddenSize)
        let perLayer = h * (2 * qDim + 2 * kvDim) + 3 * h * Double(c.intermediateSize)
        let matmul = 2 * (Double(c.numLayers) * perLayer + h * Double(c.vocabSize))
        let attention = Double(c.numLayers) * 4 * qDim * Double(seq + 1) / 2
        return (matmul + attention, 2 * matmul + 3 * attention)
    }

    /// sgemm GFLOP/s on an MLP-sized product (m × k · k × n), best of a few timed runs.
    public static func sgemmProbe(m: Int = 512, n: Int = 1536, k: Int = 576, seconds: Double = 0.5) -> Double {
        var rng = SeededGenerator(seed: 1)
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [n, k]), c = Tensor(shape: [m, n])
        rng.fillUniform(a.data, count: a.count, lo: -1, hi: 1)
        rng.fillUniform(b.data, count: b.count, lo: -1, hi: 1)
        func once() { BLAS.gemm(.none, .transpose, m: m, n: n, k: k, a: a.data, b: b.data, c: c.data) }
        once()
        var best = 0.0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<4 { once() }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            best = max(best, 4 * 2 * Double(m * n * k) / dt / 1e9)
        }
        return best
    }

    /// Builds a random model of `config` and times `iterations` forward passes and training steps
    /// (after `warmup` of each) on random tokens. The last `lossFraction` of each sequence is in the
    /// loss (1: plain text; ≈ 0.5: prompt-masked chat data, where the LM head skips the prompt).
    /// FLOPs per token are counted as if every position were in the loss, so a masked run shows its
    /// saving as a higher share of the roofline.
    public static func run(config: DecoderConfig = smolLM2, batch: Int = 4, seq: Int = 128, iterations: Int = 5,
                           warmup: Int = 1, threads: Int? = 1, seed: UInt64 = 0, lossFraction: Double = 1,
                           probeSeconds: Double = 0.5) throws -> Result {
        guard iterations > 0, warmup >= 0 else { throw TinhError.invalidInput("benchmark needs iterations > 0") }
        guard lossFraction > 0, lossFraction <= 1 else { throw TinhError.invalidInput("lossFraction must be in (0, 1]") }
        if let threads { BLAS.threads = threads }
        let model = try DecoderModel(config: config, weights: TinyLlama.weights(config: config, seed: seed))
        var rng = SeededGenerator(seed: seed &+ 1)
        let n = batch * seq
        let tokens = (0..<n).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let targets = (0..<n).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let promptLength = seq - max(1, Int((Double(seq) * lossFraction).rounded()))
        let mask = (0..<n).map { $0 % seq >= promptLength }

        func time(_ body: () throws -> Void) rethrows -> (median: Double, spread: Double) {
            for _ in 0..<warmup { try body() }
            var ts: [Double] = []
            for _ in 0..<iterations {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                ts.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            ts.sort()
            return (ts[ts.count / 2], ts.last! - ts.first!)
        }
        let fwd = try time { try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq) }
        let train = try time {
            let r = try model.forward(tokens: tokens, targets: targets, lossMask: mask, batch: batch, seq: seq)
            model.backward(lossScale: 1 / Float(max(r.count, 1)))
        }
        let flops = flopsPerToken(config, seq: seq)
        return Result(batch: batch, seq: seq, threads: BLAS.threads,
                      forwardFlopsPerToken: flops.forward, trainFlopsPerToken: flops.train,
                      forwardSeconds: fwd.median, forwardSpread: fwd.spread,
                      trainSeconds: train.median, trainSpread: train.spread, sgemmGFLOPS: sgemmProbe(seconds: probeSeconds),
                      lossFraction: lossFraction)
    }
}
