/// The result of a training/eval forward: the loss summed over counted positions and their count
/// (the caller normalises, e.g. by the global count across ranks).
public struct LossResult: Sendable, Equatable {
    public var loss: Double
    public var count: Int
    /// Counted positions whose argmax equals the target (only when asked for).
    public var correct: Int
    public var mean: Double { count > 0 ? loss / Double(count) : 0 }
}

extension DecoderModel {
    /// Training forward over `tokens` [batch, seq] (row-major). `targets[i]` is the token that should
    /// follow position i (the caller shifts the labels). Position i counts in the loss when
    /// `targets[i] >= 0` (use `CrossEntropy.ignoreIndex`) and `lossMask?[i] ?? true`. Only counted
    /// positions go through the final norm and LM head. Saves activations for `backward`.
    @discardableResult
    ///
    /// With `forBackward` false (evaluation) no backward may follow, and the loss path skips the
    /// work it would do ahead for one.
    ///
    /// With `segments`, each row packs examples back to back (no pad rows): attention stays inside
    /// each example and positions restart at its start, so the loss and gradients are those of
    /// the examples run one at a time (the caller's targets must not cross an example's end).
    public func forward(tokens: [Int32], targets: [Int32], lossMask: [Bool]? = nil, batch: Int, seq: Int,
                        segments: AttentionSegments? = nil, accuracy: Bool = false, forBackward: Bool = true) throws -> LossResult {
        try checkShape(batch: batch, seq: seq, count: tokens.count, what: "tokens")
        try checkTokens(tokens)
        embed(tokens)
        lastTokens = tokens
        hasTokens = true
        return try forwardFromEmbeddings(targets: targets, lossMask: lossMask, batch: batch, seq: seq, segments: segments,
                                         accuracy: accuracy, forBackward: forBackward)
    }

    /// Training forward from given input embeddings [batch, seq, hidden] instead of token ids
    /// (gradient checks, soft prompts). The embedding table then gets no gradient.
    @discardableResult
    public func forward(inputEmbeddings: UnsafeBufferPointer<Float>, targets: [Int32], lossMask: [Bool]? = nil,
                        batch: Int, seq: Int, segments: AttentionSegments? = nil, accuracy: Bool = false,
                        forBackward: Bool = true) throws -> LossResult {
        try checkShape(batch: batch, seq: seq, count: inputEmbeddings.count / max(config.hiddenSize, 1), what: "input embeddings")
        guard inputEmbeddings.count == batch * seq * config.hiddenSize else {
            throw TinhError.invalidInput("input embeddings: \(inputEmbeddings.count) floats for [\(batch), \(seq), \(config.hiddenSize)]")
        }
        residual[0].reserve(inputEmbeddings.count).update(from: inputEmbeddings.baseAddress!, count: inputEmbeddings.count)
        hasTokens = false
        return try forwardFromEmbeddings(targets: targets, lossMask: lossMask, batch: batch, seq: seq, segments: segments,
                                         accuracy: accuracy, forBackward: forBackward)
    }

    private func forwardFromEmbeddings(targets: [Int32], lossMask: [Bool]?, batch: Int, seq: Int, segments: AttentionSegments?,
                                       accuracy: Bool, forBackward: Bool) throws -> LossResult {
        let rows = batch * seq
        readyForBackward = false
        try checkShape(batch: batch, seq: seq, count: targets.count, what: "targets")
        if let lossMask { try checkShape(batch: batch, seq: seq, count: lossMask.count, what: "loss mask") }
        if let segments, segments.batch != batch || segments.seq != seq {
            throw TinhError.invalidInput("segments for [\(segments.batch), \(segments.seq)], batch [\(batch), \(seq)]")
        }
        let vocab = Int32(config.vocabSize)
        if let bad = targets.first(where: { $0 >= vocab }) {
            throw TinhError.invalidInput("target id \(bad) outside the vocabulary (0..<\(vocab))")
        }
        // Positions whose loss counts; the others need no LM-head logits at all.
        ws.selectedRows.removeAll(keepingCapacity: true)
        ws.selectedTargets.removeAll(keepingCapacity: true)
        for i in 0..<rows where targets[i] >= 0 && (lossMask?[i] ?? true) {
            ws.selectedRows.append(i)
            ws.selectedTargets.append(targets[i])
        }

        lastSegments = segments
        runBlocks(batch: batch, seq: seq, training: true, segments: segments)
        let outer = phaseTimer.enter(.lmHeadAndLoss)
        defer { phaseTimer.leave(outer) }
        let n = ws.selectedRows.count
        var predictions = [Int32](repeating: 0, count: accuracy ? n : 0)
        var (loss, count, correct) = (0.0, 0, 0)
        headFused = usesFusedHead
        if headFused {
            (loss, count) = predictions.withUnsafeMutableBufferPointer {
                fusedHeadAndLoss(predictions: accuracy ? $0.baseAddress : nil, forBackward: forBackward)
            }
        } else {
            head(rows: ws.selectedRows, training: true)
            ws.lse.reserve(n)
            if n > 0 {
                (loss, count) = ws.selectedTargets.withUnsafeBufferPointer { t in
                    predictions.withUnsafeMutableBufferPointer { p in
                        CrossEntropy.forward(logits: ws.logits.ptr, targets: t.baseAddress!, mask: nil, lse: ws.lse.ptr,
                                             predictions: accuracy ? p.baseAddress : nil, rows: n, vocab: config.vocabSize)
                    }
                }
            }
        }
        if accuracy { for i in 0..<n where predictions[i] == ws.selectedTargets[i] { correct += 1 } }
        lastBatch = batch
        lastSeq = seq
        readyForBackward = forBackward
        return LossResult(loss: loss, count: count, correct: correct)
    }

    /// Backward of the last training forward for the loss `lossScale · Σ losses` (e.g. 1/global
    /// token count). Produces dX through every layer down to the embedding output
    /// (`inputEmbeddingGrad`), adapter gradients, and the requested weight gradients (accumulated).
    public func backward(lossScale: Float) {
        precondition(readyForBackward, "backward needs a training forward first (and only one backward per forward)")
        readyForBackward = false
        let batch = lastBatch, seq = lastSeq, rows = batch * seq
        let hid = config.hiddenSize, n = ws.selectedRows.count
        ws.reserveBackward(rows: rows, seq: seq, config: config)
        ws.dLossNorm.reserve(n * hid); ws.dLossIn.reserve(n * hid)

        // Loss → logits (in place) → final norm input rows → residual stream.
        let outer = phaseTimer.enter(.lmHeadAndLoss)
        let dRes = ws.dResidual.ptr
        dRes.update(repeating: 0, count: rows * hid)
        if n > 0 {
            if headFused {
                // The forward already made dL/d(norm output) for a loss scale of 1.
                if lossScale != 1 { scale(ws.dLossNorm.ptr, by: lossScale, count: n * hid) }
            } else {
                ws.selectedTargets.withUnsafeBufferPointer { t in
                    CrossEntropy.backward(dlogits: ws.logits.ptr, logits: ws.logits.ptr, targets: t.baseAddress!,
                                          mask: nil, lse: ws.lse.ptr, rows: n, vocab: config.vocabSize, scale: lossScale,
                                          softcap: config.spec.finalLogitSoftcap)
                }
                lmHead.backward(ws.logits.ptr, ws.dLossNorm.ptr, input: lmHead.backwardNeedsInput ? UnsafePointer(ws.lossNorm.ptr) : nil, rows: n)
            }
            ws.dLossIn.ptr.update(repeating: 0, count: n * hid)
            RMSNorm.backward(dinp: ws.dLossIn.ptr, dweight: finalNorm.grad?.data, dout: ws.dLossNorm.ptr, inp: ws.lossIn.ptr,
                             weight: finalNorm.weight.data, rstd: ws.lossRstd.ptr, rows: n, dim: hid, shift: config.spec.normShift)
            for (i, r) in ws.selectedRows.enumerated() {
                (dRes + r * hid).update(from: ws.dLossIn.ptr + i * hid, count: hid)
            }
        }
        onLayerBackwardDone?(blocks.count)

        phaseTimer.leave(outer)
        // Blocks below the lowest trainable one feed nothing that trains: no backward for them,
        // unless the gradient must reach the input (or the embedding table).
        let lowest = needsInputGradient || embeddingGrad != nil ? 0 : (lowestTrainableBlock ?? blocks.count)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            if l >= lowest {
                if recomputesBlocks { recomputeForward(block: l, batch: batch, seq: seq) }
                blocks[l].backward(x: residual[l].ptr, batch: batch, seq: seq, rope: rope(layer: l), ws: ws, segments: lastSegments)
            }
            onLayerBackwardDone?(l)
        }

        if let dE = embeddingGrad, hasTokens {
            let outer = phaseTimer.enter(.embedding)
            defer { phaseTimer.leave(outer) }
            lastTokens.withUnsafeBufferPointer {
                Embedding.backward(dtable: dE.data, dout: dRes, tokens: $0.baseAddress!, rows: rows, dim: hid,
                                   scale: config.spec.embeddingScale ?? 1)
            }
        }
    }

    /// dL/d(input embeddings) [batch, seq, hidden] from the last `backward` (valid until the next pass;
    /// only with `needsInputGradient`, the default).
    public var inputEmbeddingGrad: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: ws.dResidual.ptr, count: lastBatch * lastSeq * config.hiddenSize)
    }
}
