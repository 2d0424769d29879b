/// Autoregressive generation with a KV cache: the prompt is fed once (prefill), then one token
/// at a time until a stop token or the token limit.
public struct TextGenerator {
    public let loaded: LoadedModel

    public init(_ loaded: LoadedModel) { self.loaded = loaded }

    /// Tokens that end a reply: EOS and the chat end-of-turn tokens the vocabulary has.
    public var stopIds: Set<Int32> {
        var ids = Set<Int32>()
        if let eos = loaded.tokenizer.specialIds.eos { ids.insert(eos) }
        for name in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"] {
            if let id = loaded.tokenizer.id(ofToken: name) { ids.insert(id) }
        }
        return ids
    }

    /// Generates up to `maxTokens` ids after `prompt`, calling `onToken` for each (stop tokens
    /// are not passed on or returned).
    public func generate(prompt: [Int32], maxTokens: Int, sampler: inout TokenSampler,
                         onToken: (Int32) -> Void = { _ in }) throws -> [Int32] {
        guard !prompt.isEmpty else { throw TinhError.invalidInput("the prompt encodes to no tokens") }
        guard maxTokens >= 0 else { throw TinhError.invalidInput("--max-tokens must not be negative") }
        let limit = loaded.config.maxPositions
        guard prompt.count < limit else {
            throw TinhError.invalidInput("the prompt has \(prompt.count) tokens; the model takes at most \(limit)")
        }
        let budget = min(maxTokens, limit - prompt.count)
        let cache = try loaded.model.makeKVCache(batch: 1, maxTokens: prompt.count + budget)
        let stops = stopIds
        let vocab = loaded.config.vocabSize
        var logits = try loaded.model.decode(tokens: prompt, cache: cache)
        var out: [Int32] = []
        while out.count < budget {
            let next = sampler.next(UnsafeBufferPointer(start: logits.data, count: vocab))
            if stops.contains(next) { break }
            out.append(next)
            onToken(next)
            if out.count == budget { break }
            logits = try loaded.model.decode(tokens: [next], cache: cache)
        }
        return out
    }
}
