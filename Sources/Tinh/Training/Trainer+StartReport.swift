import Foundation

/// What a run prints at start (`startSummary`) and after its first step (measured memory, PSS).
extension Trainer {
    /// What `tinh train` prints at start: model, data, the method with its trainable count next to
    /// the method's formula, bytes all-reduced per step, and the activation memory of a micro-batch.
    public var startSummary: String {
        let p = adapters.parameters.count, a = config.adapter
        let formula = adapters.method.expectedTrainableCount().map { "formula \($0)" + ($0 == p ? "" : ", MISMATCH") } ?? "no formula stated"
        var lines = [
            "model \(loaded.spec): \(loaded.config.numLayers) layers, hidden \(loaded.config.hiddenSize), loaded in \(String(format: "%.1f", loaded.loadSeconds)) s",
            data.summary,
            adapters.isFullFineTuning
                ? "full fine-tuning: every weight trains (embeddings, norms, projections; biases frozen): \(p) trainable parameters (\(formula))"
                : "\(a.method.name) r=\(a.rank) α=\(a.alpha) on \(a.targets.joined(separator: ",")): \(adapters.modules.count) modules, "
                    + "\(p) trainable parameters (\(formula))",
            baseSummary,
            "all-reduced per step: \(Self.bytes(allreduceBytesPerStep)) (\(p) gradient floats + loss and token count), " + reductionText,
            "activation memory per micro-batch of \(config.microBatch(worldSize: comm.size))×\(config.seq) (estimate): " + memoryText(activationEstimate),
            "\(comm.size) rank(s), global batch \(config.batch) (\(batchLayoutText)), seq \(config.seq), \(config.steps) steps, lr \(config.lr) \(config.schedule.rawValue)",
        ]
        if let simulated = simulatedLatency { lines.append(simulated.label) }
        if let note = LoRAPlus.note(ratio: config.loraPlusRatio, method: a.method, parameters: adapters.parameters) { lines.append(note) }
        lines += adapters.method.summaryLines(steps: config.steps)
        return lines.joined(separator: "\n")
    }

    /// The base's line: precision and the bytes its projection weights hold.
    var baseSummary: String {
        let model = loaded.model
        let f32 = model.blocks.flatMap(\.linears).reduce(0) { $0 + $1.weight.count * 4 }
        var line = "base \(model.basePrecision): projection weights \(Self.bytes(model.projectionBytes))"
        if model.basePrecision == .bf16, (model.lmHead.weight as? BF16Weight)?.arithmetic == .bf16 {
            line += String(format: " (%.2f× less than f32's %@); their GEMMs and the LM head's run in bf16 through oneDNN %@ (%@), f32 accumulation; embedding and norms f32",
                           Double(f32) / Double(max(model.projectionBytes, 1)), Self.bytes(f32), BF16GEMM.oneDNNVersion, BF16GEMM.isa)
        } else if model.basePrecision == .int8 {
            line += String(format: " (%.2f× less than f32's %@), int8 codes ±%d with a scale per row and block of ≤ 256 columns; their GEMMs and the LM head's run in int8 through oneDNN %@ (%@, %@), one per block, x and dy quantized per row and block, int32 sums; embedding and norms f32",
                           Double(f32) / Double(max(model.projectionBytes, 1)), Self.bytes(f32), Int8GEMM.weightLevels, BF16GEMM.oneDNNVersion,
                           BF16GEMM.isa, Int8GEMM.implementation(.transpose, n: model.config.hiddenSize, k: Int8Matrix.blockSize(forColumns: model.config.hiddenSize)) ?? "?")
        } else if model.basePrecision != .f32 {
            let how = model.basePrecision == .bf16 ? "this CPU has no bf16 arithmetic: widened to f32" : "dequantized"
            line += String(format: " (%.2f× less than f32's %@), \(how) per layer into one %@ buffer (all of them once: %.0f ms; "
                           + "twice per micro-batch); embedding, head and norms f32",
                           Double(f32) / Double(max(model.projectionBytes, 1)), Self.bytes(f32), Self.bytes(model.dequantizationScratch.bytes),
                           1000 * model.timeDequantization())
        }
        return line
    }

    /// Bytes each rank sends into the all-reduces of one step: the gradient floats and three doubles
    /// (loss, loss tokens, stop requests).
    public var allreduceBytesPerStep: Int { adapters.parameters.count * MemoryLayout<Float>.stride + 3 * MemoryLayout<Double>.stride }

    /// How the gradients are reduced, for the start summary.
    var reductionText: String {
        guard config.overlap else { return "in one fused all-reduce after backward (--no-overlap)" }
        let n = reducer.plan.buckets.count
        return n == 1 ? "in 1 bucket started after backward (all gradients fit in --bucket-mb \(config.bucketMB))"
            : "in \(n) buckets of whole layers (--bucket-mb \(config.bucketMB)) started during backward"
    }

    /// The activation bytes (kept for backward, scratch) of one micro-batch with every position counted (an upper bound).
    public var activationEstimate: (kept: Int, scratch: Int) {
        let micro = config.microBatch(worldSize: comm.size)
        return loaded.model.activationEstimate(batch: micro, seq: config.seq, lossRows: micro * config.seq)
    }

    func gatherPSS() throws -> [(total: Double, base: Double)] {
        let (pss, base, _) = try BaseMemory.gather(loaded, comm: comm)
        return Array(zip(pss, base))
    }

    /// PSS per rank after the first step, and how the base is held.
    var pssLine: String {
        let base = Double(loaded.baseBytes) / 1_048_576
        let totals = pssPerRank.map { String(format: "%.0f", $0.total) }.joined(separator: ", ")
        var line = "PSS per rank after the first step: \(totals) MiB; base weights \(String(format: "%.0f", base)) MiB (\(loaded.model.basePrecision)), "
        if adapters.isFullFineTuning {
            line += "trained: each rank holds them in its flat buffer, with gradients and AdamW moments (4 × the weights)"
        } else if loaded.sharedBasePath != nil {
            let shares = pssPerRank.map { String(format: "%.0f", $0.base) }.joined(separator: ", ")
            line += "one copy per node mapped from the cache (its share per rank: \(shares) MiB)"
        } else {
            line += "held by each rank" + (comm.localSize > 1 ? " (private copies; --shared-base on shares one per node)" : "")
        }
        return line
    }

    /// The activation bytes the model's buffers hold now (after a step: measured).
    var measuredMemoryLine: String {
        let m = loaded.model.activationMemory
        return "activation memory measured after the first step: " + memoryText((m.keptBytes, m.scratchBytes))
    }

    private func memoryText(_ m: (kept: Int, scratch: Int)) -> String {
        "\(Self.bytes(m.kept)) kept for backward + \(Self.bytes(m.scratch)) scratch"
    }

    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.1f MiB", Double(n) / 1048576)
    }

    /// How a step's examples become micro-batches, for the start line.
    var batchLayoutText: String {
        guard let budget = config.batchTokens else {
            return "\(config.microBatch(worldSize: comm.size)) per micro-batch × \(config.gradAccum) per rank, padded to seq"
        }
        return "varlen: packed back to back into micro-batches of ≤ \(budget) tokens, no pad, attention inside each example, tokens balanced over ranks"
    }
}
