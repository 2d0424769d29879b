/// Keys and values (after RoPE) of the tokens seen so far, per layer, for incremental decoding.
/// Layout per layer: [batch, maxTokens, kvHeads·headDim].
public final class KVCache {
    public let batch: Int
    public let maxTokens: Int
    /// Tokens per sequence already in the cache (the next token's position).
    public internal(set) var count = 0
    let keys: [Tensor]
    let values: [Tensor]

    init(config c: DecoderConfig, batch: Int, maxTokens: Int) {
        self.batch = batch
        self.maxTokens = maxTokens
        let shape = [batch, maxTokens, c.numKVHeads * c.headDim]
        keys = (0..<c.numLayers).map { _ in Tensor(shape: shape) }
        values = (0..<c.numLayers).map { _ in Tensor(shape: shape) }
    }

    /// Forget everything (start a new sequence).
    public func reset() { count = 0 }

    func slot(layer: Int) -> CacheSlot {
        CacheSlot(keys: keys[layer].data, values: values[layer].data, maxTokens: maxTokens, past: count)
    }
}
