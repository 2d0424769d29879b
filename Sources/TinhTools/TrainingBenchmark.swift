import Tinh
import Foundation

/// `tinh bench`: times real training steps (the Trainer's own step: forward, backward, all-reduce,
/// clipping, AdamW) on synthetic data after a warm-up, and sets the speed against the FLOPs the step
/// must do and against an sgemm probe measured in the same process (the roofline).
public enum TrainingBenchmark {
    /// text: every position is in the loss. chat: prompt/completion rows whose prompt (about half
    /// of each row) is masked, so the LM head runs for about half the positions.
    public enum DataKind: String, Codable, Sendable, CaseIterable { case text, chat }

    public struct Options: Codable, Sendable {
        public var model: String
        public var adapter: AdapterConfig
        /// Sequences per rank per step.
        public var batch = 4
        public var seq = 128
        public var steps = 5
        public var warmup = 1
        /// BLAS threads per rank (nil: leave OpenBLAS's setting alone).
        public var threads: Int? = 1
        public var data = DataKind.text
        public var probeSeconds = 1.0
        public var seed: UInt64 = 0
        /// Gradient checkpointing (as `tinh train --gradient-checkpointing`).
        public var gradientCheckpointing = false
        /// The library of the frozen Float32 products (`tinh bench` passes `FrozenGEMM.preferred` for its threads).
        public var frozenGEMM = FrozenGEMM.openblas
        /// Loss rows per chunk of the fused loss path (`DecoderModel.headChunkRows`); nil: the model's default.
        public var headChunkRows: Int?
        /// A JSONL file to train on instead of synthetic rows (`--data FILE.jsonl`): its examples as
        /// `tinh train` encodes and samples them, at most `seq` tokens each, `batch` per rank per step.
        public var dataFile: String?
        /// Varlen micro-batches of at most this many tokens (`tinh train --batch-tokens`); nil: rows padded to `seq`.
        public var batchTokens: Int?
        /// A directory to write each rank's examples of every step to (`rank-R.json`), so that a
        /// baseline (bench/peft_baseline.py --batches) trains on exactly the same tokens.
        public var batchesOut: String?
        /// Whether the node's ranks map one copy of the base (as `tinh train --shared-base`).
        public var sharedBase = SharedBaseCache.Policy.auto

        public init(model: String, adapter: AdapterConfig = AdapterConfig()) {
            self.model = model
            self.adapter = adapter
        }
    }

    /// FLOPs per token of one training step (`StepFlops`, which the trainer's MFU uses too).
    public typealias Flops = StepFlops

    public struct RankResult: Codable, Sendable {
        public var rank: Int
        /// Real (non-pad) tokens per second. Synthetic rows: a step's tokens over the median step
        /// time. A data file, whose steps differ: all timed steps' tokens over their total time.
        public var tokensPerSecond: Double
        /// Mean real tokens of this rank per timed step, and the share of computed positions that were pad.
        public var realTokensPerStep: Double
        public var padShare: Double
        public var medianStepSeconds: Double
        /// CPU seconds this process used in the median step (all its threads): on a shared,
        /// oversubscribed machine steadier than wall time, which includes time spent descheduled.
        public var medianStepCPUSeconds: Double
        public var tokensPerCPUSecond: Double
        public var minStepSeconds: Double
        public var maxStepSeconds: Double
        /// Seconds per step in each phase (median step's share is not separable: means over the timed steps).
        public var phaseSeconds: [String: Double]
        public var achievedGFLOPS: Double
        public var sgemmGFLOPS: Double
        public var percentOfRoofline: Double
        /// The FMA peak of this rank's cores (one core's `FMAPeak` × its BLAS threads), and the
        /// achieved rate over it: MFU.
        public var fmaPeakGFLOPS: Double
        public var mfu: Double { achievedGFLOPS / max(fmaPeakGFLOPS, 1e-12) }
        public var peakRssMegabytes: Double
        /// Resident memory once the model and adapters are loaded, before the first step.
        public var rssAfterLoadMegabytes: Double
        /// What the activation buffers held after the steps (kept for backward + scratch).
        public var activationMegabytes: Double
    }

    public struct Result: Codable, Sendable {
        public var options: Options
        public var world: Int
        public var threads: Int
        public var lossFraction: Double
        public var flopsPerToken: Flops
        public var ranks: [RankResult]
        /// Whole job: tokens of every rank per median step time (the ranks step in lockstep).
        public var tokensPerSecond: Double
        /// (max − min) / median of the step times over ranks' timed steps.
        public var spread: Double
        public var achievedGFLOPS: Double
        public var sgemmGFLOPS: Double
        public var percentOfRoofline: Double
        /// Every rank's FMA peak summed, the fastest vector width on rank 0, and MFU over the job.
        public var fmaPeakGFLOPS: Double
        public var fmaWidth: String
        public var mfu: Double { achievedGFLOPS / max(fmaPeakGFLOPS, 1e-12) }
        public var peakRssMegabytes: Double
        /// The library behind the frozen Float32 products x·Wᵀ and dy·W ("onednn" or "openblas"; see `FrozenGEMM`).
        public var frozenGEMM: FrozenGEMM
        /// The CPU the figures came from (rank 0's).
        public var cpu: CPUDescription
        /// The job's tokens per step over the CPU seconds all ranks used in it (per core; see
        /// `RankResult.medianStepCPUSeconds`).
        public var tokensPerCPUSecond: Double {
            ranks.map(\.realTokensPerStep).reduce(0, +) / ranks.map(\.medianStepCPUSeconds).reduce(0, +)
        }
        /// Mean keys each query attends to, over the timed steps' real tokens ((seq + 1)/2 for full rows).
        public var keysPerQuery: Double
        /// The job's loss at each step, warm-up included: with a data file, a baseline replaying
        /// the same examples from the same weights must start from the same first value.
        public var losses: [Double]

        public var summary: String {
            func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
            let o = options
            let dataText: String
            if let file = o.dataFile {
                let real = ranks.map(\.realTokensPerStep).reduce(0, +) / Double(world)
                let pad = 100 * ranks.map(\.padShare).reduce(0, +) / Double(world)
                let batching = o.batchTokens.map { "varlen micro-batches of ≤ \($0) tokens, no pad" } ?? "rows padded to \(o.seq): \(f(pad, 0))% pad"
                dataText = "\(o.batch) examples of \(file) per rank per step (≤ \(o.seq) tokens each, \(f(real)) real tokens per rank-step, \(batching)), "
                    + "\(f(100 * lossFraction, 0))% of real positions in the loss, "
            } else {
                dataText = "batch \(o.batch)×\(o.seq) per rank, \(o.data.rawValue) data (\(f(100 * lossFraction, 0))% of positions in the loss), "
            }
            var lines = [
                "CPU: \(cpu.summary)",
                "\(o.adapter.method.name) r=\(o.adapter.rank) on \(o.adapter.targets.joined(separator: ",")), \(world) rank(s) × \(threads) BLAS thread(s), "
                    + dataText
                    + "\(o.steps) timed steps after \(o.warmup) warm-up, frozen f32 GEMMs on \(frozenGEMM)"
                    + (o.gradientCheckpointing ? ", gradient checkpointing (its recomputed forward is not counted in the FLOPs)" : "")
                    + (o.adapter.resolvedBasePrecision == .f32 ? "" : ", \(o.adapter.resolvedBasePrecision) base"
                       + (o.adapter.resolvedBasePrecision == .bf16 ? (BF16Weight.Arithmetic.native == .bf16 ? " (its GEMMs in bf16: the sgemm roofline does not bound them)"
                                                                                                             : " (storage only: this CPU has no bf16 arithmetic)")
                          : o.adapter.resolvedBasePrecision == .int8 ? " (its GEMMs in int8 on oneDNN \(Int8GEMM.implementation(.transpose, n: 576, k: 192) ?? "?"), one per block of ≤ 256 input columns, codes ±\(Int8GEMM.weightLevels): "
                              + "MFU and the sgemm share count the step's FLOPs against the f32 peak, so they can pass 100%)" : "")),
                "FLOPs per token: \(f(flopsPerToken.total / 1e6)) M (frozen projections \(f(flopsPerToken.frozenProjections / 1e6)), "
                    + "attention \(f(flopsPerToken.attention / 1e6)), LM head \(f(flopsPerToken.lmHead / 1e6)), adapter \(f(flopsPerToken.adapter / 1e6)))",
                "tokens/s: \(f(tokensPerSecond)) (median step; spread ±\(f(50 * spread))%; \(f(tokensPerCPUSecond)) per CPU-second)  \(f(achievedGFLOPS)) GFLOP/s = "
                    + "MFU \(f(100 * mfu))% of the FMA peak (\(f(fmaPeakGFLOPS)) GFLOP/s, \(fmaWidth), \(world * threads) core(s)), "
                    + "\(f(percentOfRoofline))% of the in-process sgemm probe (\(f(sgemmGFLOPS)) GFLOP/s)  peak RSS \(f(peakRssMegabytes, 0)) MB"
                    + (world > 1 ? " (all ranks)" : ""),
            ]
            for r in ranks {
                let total = r.phaseSeconds.values.reduce(0, +)
                let phases = Phase.allCases.compactMap { p -> String? in
                    guard let s = r.phaseSeconds[p.name], s > 0 else { return nil }
                    return "\(p.name) \(f(1000 * s, 0)) ms (\(f(100 * s / max(total, 1e-12), 0))%)"
                }
                lines.append("rank \(r.rank): \(f(r.tokensPerSecond)) tokens/s (\(f(r.tokensPerCPUSecond)) per CPU-second), \(f(r.medianStepSeconds * 1000, 0)) ms/step "
                             + "[\(f(r.minStepSeconds * 1000, 0))–\(f(r.maxStepSeconds * 1000, 0))], \(f(r.achievedGFLOPS)) GFLOP/s = "
                             + "MFU \(f(100 * r.mfu))% of \(f(r.fmaPeakGFLOPS)), \(f(r.percentOfRoofline))% of sgemm's \(f(r.sgemmGFLOPS)), peak RSS \(f(r.peakRssMegabytes, 0)) MB "
                             + "(\(f(r.rssAfterLoadMegabytes, 0)) MB after loading; activation buffers \(f(r.activationMegabytes, 0)) MB)")
                lines.append("  per step: " + phases.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// FLOPs per token of a training step of `model` with these adapters (`lossFraction` of the
    /// positions in the loss).
    public static func flops(model: DecoderModel, adapters: AdapterSet, seq: Int, lossFraction: Double) -> Flops {
        StepFlops(model: model, adapters: adapters, seq: seq, lossFraction: lossFraction)
    }

    /// Runs the benchmark on this rank; every rank of `comm` must call it. Rank 0's result holds
    /// every rank's numbers (the others get the same).
    public static func run(_ o: Options, comm: Communicator) throws -> Result {
        guard o.batch > 0, o.seq > 1, o.steps > 0, o.warmup >= 0 else {
            throw TinhError.invalidInput("bench needs --batch > 0, --seq > 1, --steps > 0 and --warmup ≥ 0")
        }
        if let t = o.threads {
            guard t > 0 else { throw TinhError.invalidInput("--threads must be positive") }
            BLAS.threads = t
        }
        // One directory name for every rank (the ranks compare their configs, paths included).
        let name = try comm.broadcastBytes(comm.isRoot ? Array("tinh-bench-\(UUID().uuidString)".utf8) : [], root: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(String(decoding: name, as: UTF8.self))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // One base per node where ranks share it, as `tinh train` loads it.
        let sharing = o.adapter.method.type.trainsWholeModel ? .off : o.sharedBase
        let loaded = try BaseMemory.load(o.model, policy: sharing, basePrecision: o.adapter.resolvedBasePrecision, gemm: o.frozenGEMM, comm: comm)
        let steps = o.warmup + o.steps
        let dataPath: String
        if let file = o.dataFile {
            dataPath = file
        } else {
            dataPath = dir.appendingPathComponent("data.jsonl").path
            try writeData(kind: o.data, rows: o.batch * comm.size * steps, seq: o.seq, tokenizer: loaded.tokenizer,
                          seed: o.seed, to: dataPath)
        }

        var config = TrainConfig(model: o.model, data: dataPath, out: dir.appendingPathComponent("out").path, adapter: o.adapter)
        config.batch = o.batch * comm.size
        config.seq = o.seq
        config.steps = steps
        config.validFraction = 0
        config.seed = o.seed
        config.lr = 1e-4
        config.gradientCheckpointing = o.gradientCheckpointing
        config.batchTokens = o.batchTokens
        let trainer = try Trainer(config: config, comm: comm, loaded: loaded, headChunkRows: o.headChunkRows)

        // The roofline: sgemm on this rank's threads, measured while the other ranks do the same.
        try comm.barrier()
        let probe = SgemmProbe.measure(size: 1024, seconds: o.probeSeconds, threads: BLAS.threads)
        // MFU's denominator: one core's FMA peak × the cores this rank computes on.
        let peak = FMAPeak.measure(seconds: min(o.probeSeconds, 0.5))
        try comm.barrier()

        let rssAfterLoad = currentRSSMegabytes()
        resetPeakRSS()
        var times: [Double] = [], cpuTimes: [Double] = [], lossTokens = 0, myReal = 0, myKeys = 0, myPositions = 0
        var replay: [StepReplay] = [], losses: [Double] = []
        let timer = PhaseTimer()
        for step in 0..<steps {
            if step == o.warmup { timer.reset(); loaded.model.phaseTimer = timer }
            let mine = try trainer.stepExamples(step)
            if o.batchesOut != nil { replay.append(StepReplay(step: step, examples: mine)) }
            let cpu0 = processCPUSeconds()
            let m = try trainer.trainStep(step)
            losses.append(m.loss)
            if step >= o.warmup {
                times.append(m.seconds)
                cpuTimes.append(processCPUSeconds() - cpu0)
                lossTokens += m.lossTokens
                myReal += mine.realTokens
                myKeys += mine.attendedKeys
                myPositions += mine.positions
            }
        }
        if let out = o.batchesOut {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let file = StepReplay.File(rank: comm.rank, world: comm.size, warmup: o.warmup, steps: replay)
            try AtomicFile.write(try JSONEncoder().encode(file), to: (out as NSString).appendingPathComponent("rank-\(comm.rank).json"))
        }
        var phases = timer.seconds
        timer.stop()
        loaded.model.phaseTimer = nil
        let rss = peakRSSMegabytes()
        // The FLOPs of the real tokens only (pad is not work): the loss share of real positions (the
        // step's loss tokens are the job's already), and attention at the seq whose (seq + 1)/2 keys
        // per query match the keys the examples attend to (full synthetic rows: exactly --seq).
        var keyTable = [Double(myKeys), Double(myReal)]
        try comm.allreduceSum(&keyTable)
        let keysPerQuery = keyTable[0] / max(keyTable[1], 1)
        let lossFraction = Double(lossTokens) / max(keyTable[1], 1)
        let attentionSeq = max(1, Int((2 * keysPerQuery - 1).rounded()))
        let flops = Self.flops(model: loaded.model, adapters: trainer.adapters, seq: attentionSeq, lossFraction: lossFraction)

        // Per-rank numbers reach rank 0 through one all-reduce of a table with one row per rank.
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let stepsTimed = Double(o.steps)
        let measured = phases.values.reduce(0, +)
        phases[.other, default: 0] += max(0, times.reduce(0, +) - measured)
        let fields = 13 + Phase.allCases.count
        var table = [Double](repeating: 0, count: fields * comm.size)
        let activations = Double(loaded.model.activationMemory.totalBytes) / 1_048_576
        let row = [median, sorted.first!, sorted.last!, probe.bestGFLOPS, rss, Double(BLAS.threads), rssAfterLoad, activations,
                   cpuTimes.sorted()[cpuTimes.count / 2], peak.perCoreGFLOPS * Double(BLAS.threads),
                   Double(myReal), Double(myPositions), times.reduce(0, +)]
            + Phase.allCases.map { (phases[$0] ?? 0) / stepsTimed }
        for (i, v) in row.enumerated() { table[comm.rank * fields + i] = v }
        try comm.allreduceSum(&table)

        var ranks: [RankResult] = []
        for r in 0..<comm.size {
            let v = Array(table[(r * fields)..<((r + 1) * fields)])
            let perStep = v[10] / stepsTimed
            let tps = o.dataFile == nil ? perStep / v[0] : v[10] / v[12]
            let gflops = flops.total * tps / 1e9
            var ph: [String: Double] = [:]
            for p in Phase.allCases { ph[p.name] = v[13 + p.rawValue] }
            ranks.append(RankResult(rank: r, tokensPerSecond: tps, realTokensPerStep: perStep, padShare: 1 - v[10] / max(v[11], 1),
                                    medianStepSeconds: v[0], medianStepCPUSeconds: v[8],
                                    tokensPerCPUSecond: perStep / v[8], minStepSeconds: v[1], maxStepSeconds: v[2],
                                    phaseSeconds: ph, achievedGFLOPS: gflops, sgemmGFLOPS: v[3], percentOfRoofline: 100 * gflops / v[3],
                                    fmaPeakGFLOPS: v[9], peakRssMegabytes: v[4], rssAfterLoadMegabytes: v[6], activationMegabytes: v[7]))
        }
        // The ranks step in lockstep (the all-reduce): the job's rate is its tokens over the slowest rank's time.
        let slowest = ranks.map(\.medianStepSeconds).max()!
        let jobTokens = ranks.map(\.realTokensPerStep).reduce(0, +)
        let tps = o.dataFile == nil ? jobTokens / slowest
            : jobTokens * stepsTimed / (0..<comm.size).map { table[$0 * fields + 12] }.max()!
        let achieved = flops.total * tps / 1e9
        let roof = ranks.map(\.sgemmGFLOPS).reduce(0, +)
        let spread = (ranks.map(\.maxStepSeconds).max()! - ranks.map(\.minStepSeconds).min()!) / slowest
        return Result(options: o, world: comm.size, threads: BLAS.threads, lossFraction: lossFraction, flopsPerToken: flops,
                      ranks: ranks, tokensPerSecond: tps, spread: spread, achievedGFLOPS: achieved, sgemmGFLOPS: roof,
                      percentOfRoofline: 100 * achieved / roof, fmaPeakGFLOPS: ranks.map(\.fmaPeakGFLOPS).reduce(0, +),
                      fmaWidth: peak.bestWidth, peakRssMegabytes: ranks.map(\.peakRssMegabytes).reduce(0, +),
                      frozenGEMM: loaded.model.frozenGEMM, cpu: CPUDescription.current(), keysPerQuery: keysPerQuery,
                      losses: losses)
    }

    /// CPU time of this process, all threads.
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Synthetic JSONL: `rows` records of at least seq+1 tokens. text: {"text"}; chat:
    /// {"prompt","completion"} with the prompt about half of the row (masked from the loss).
    static func writeData(kind: DataKind, rows: Int, seq: Int, tokenizer: Tokenizer, seed: UInt64, to path: String) throws {
        let words = ["the", "model", "learns", "from", "data", "and", "every", "step", "makes", "it", "a", "little", "better",
                     "at", "what", "we", "ask", "of", "time", "small", "fast", "cat", "river", "stone", "light", "house", "green"]
        var rng = SeededGenerator(seed: seed &+ 0x5eed)
        func text(tokens: Int) -> String {
            // Words until the text has at least `tokens` tokens, overshooting by at most one word.
            var s = "", count = 0
            while count < tokens {
                for _ in 0..<max(1, (tokens - count) / 3) { s += (s.isEmpty ? "" : " ") + words[Int(rng.next() % UInt64(words.count))] }
                count = tokenizer.encode(s, parseSpecial: false).count
            }
            return s
        }
        let encoder = try ExampleEncoder(tokenizer: tokenizer, seq: seq)
        var out = ""
        for _ in 0..<rows {
            let record: [String: String]
            switch kind {
            case .text: record = ["text": text(tokens: seq + 2)]
            case .chat:
                // Shorten the prompt until about half of the row carries loss (a chat template adds
                // its own masked tokens, e.g. a system turn).
                let completion = text(tokens: seq)
                var promptTokens = seq / 2, prompt = text(tokens: promptTokens)
                for _ in 0..<8 {
                    let loss = try encoder.encode(.promptCompletion(prompt: prompt, completion: completion)).example.lossTokens
                    let excess = seq / 2 - loss
                    if abs(excess) <= max(2, seq / 32) || promptTokens <= 1 { break }
                    promptTokens = max(1, promptTokens - excess)
                    prompt = text(tokens: promptTokens)
                }
                record = ["prompt": prompt, "completion": completion]
            }
            out += String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        try AtomicFile.write(Data(out.utf8), to: path)
    }
}

extension TrainingBenchmark {
    /// One GEMM of a training step at the model's shapes, timed alone.
    public struct ShapeRate: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var gflops: Double
    }

    /// GFLOP/s of the step's frozen-weight GEMMs at `rows` = batch·seq: each projection's forward
    /// (x·Wᵀ) and backward dX (dy·W), and the LM head's. Shows how far the shapes themselves sit
    /// below the square sgemm probe. Random weights; best of a few runs of each, with W hot in cache
    /// (in a step each W is read once, cold), so small shapes show an upper bound.
    public static func shapeRates(config c: DecoderConfig, rows: Int, seconds: Double = 0.3) -> [ShapeRate] {
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        let shapes: [(String, Int, Int)] = [("q,o", qDim, c.hiddenSize), ("k,v", kvDim, c.hiddenSize),
                                            ("gate,up", c.intermediateSize, c.hiddenSize), ("down", c.hiddenSize, c.intermediateSize),
                                            ("lm_head", c.vocabSize, c.hiddenSize)]
        var rng = SeededGenerator(seed: 3)
        var out: [ShapeRate] = []
        for (name, outF, inF) in shapes {
            let w = Tensor(shape: [outF, inF]), x = Tensor(shape: [rows, max(inF, outF)]), y = Tensor(shape: [rows, max(inF, outF)])
            rng.fillUniform(x.data, count: x.count, lo: -1, hi: 1)
            rng.fillUniform(w.data, count: w.count, lo: -0.1, hi: 0.1)
            rng.fillUniform(x.data, count: x.count, lo: -1, hi: 1)
            func best(_ body: () -> Void) -> Double {
                body()
                var t = Double.infinity
                let start = monotonicSeconds()
                while monotonicSeconds() - start < seconds || t == .infinity {
                    let t0 = monotonicSeconds(); body(); t = min(t, monotonicSeconds() - t0)
                }
                return 2 * Double(rows * outF * inF) / t / 1e9
            }
            let fwd = best { BLAS.gemm(.none, .transpose, m: rows, n: outF, k: inF, a: x.data, b: w.data, c: y.data) }
            let bwd = best { BLAS.gemm(.none, .none, m: rows, n: inF, k: outF, a: x.data, b: w.data, c: y.data) }
            out.append(ShapeRate(name: name + " forward", m: rows, n: outF, k: inF, gflops: fwd))
            out.append(ShapeRate(name: name + " dX", m: rows, n: inF, k: outF, gflops: bwd))
        }
        return out
    }
}
