extension DecoderModel {
    /// Logits [batch·seq, vocab] for every position of `tokens` [batch, seq] (no KV cache, nothing
    /// saved for backward; invalidates a pending training forward).
    public func logits(tokens: [Int32], batch: Int = 1, seq: Int? = nil) throws -> Tensor {
        let seq = seq ?? tokens.count / max(batch, 1)
        try checkShape(batch: batch, seq: seq, count: tokens.count, what: "tokens")
        try checkTokens(tokens)
        readyForBackward = false
        embed(tokens)
        runBlocks(batch: batch, seq: seq, training: false)
        return headLogits(rows: Array(0..<(batch * seq)))
    }

    /// A cache for `decode`, holding up to `maxTokens` positions per sequence (default: the model's maximum).
    public func makeKVCache(batch: Int = 1, maxTokens: Int? = nil) throws -> KVCache {
        let n = maxTokens ?? config.maxPositions
        guard batch > 0, n > 0, n <= config.maxPositions else {
            throw TinhError.invalidInput("KV cache of \(n) tokens × batch \(batch): need 0 < tokens ≤ \(config.maxPositions)")
        }
        return KVCache(config: config, batch: batch, maxTokens: n)
    }

    /// Feeds `tokens` [batch, n] after the cache's current contents (prefill with the whole prompt,
    /// then one token at a time) and appends their keys/values. Returns logits [batch, vocab] for the
    /// last new position of each sequence, or [batch·n, vocab] for all of them when `allPositions`.
    public func decode(tokens: [Int32], cache: KVCache, allPositions: Bool = false) throws -> Tensor {
        let batch = cache.batch, n = tokens.count / batch
        try checkShape(batch: batch, seq: n, count: tokens.count, what: "tokens", past: cache.count)
        guard cache.count + n <= cache.maxTokens else {
            throw TinhError.invalidInput("KV cache full: \(cache.count) + \(n) tokens exceed its \(cache.maxTokens)")
        }
        guard cache.keys.count == config.numLayers, cache.keys.first?.shape.last == config.numKVHeads * config.headDim else {
            throw TinhError.invalidInput("KV cache was made for a different model")
        }
        try checkTokens(tokens)
        readyForBackward = false
        embed(tokens)
        runBlocks(batch: batch, seq: n, training: false, cache: cache)
        cache.count += n
        let rows = allPositions ? Array(0..<(batch * n)) : (0..<batch).map { $0 * n + n - 1 }
        return headLogits(rows: rows)
    }

    /// Final norm + LM head for the given rows of the last residual, copied out.
    private func headLogits(rows: [Int]) -> Tensor {
        head(rows: rows, training: false)
        let out = Tensor(shape: [rows.count, config.vocabSize])
        out.data.update(from: ws.logits.ptr, count: out.count)
        return out
    }
}
