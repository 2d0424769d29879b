@testable import Tinh

/// Small models and batches for model tests.
enum ModelFixture {
    /// tiny's shape, optionally untied / multi-head / with q,k,v biases.
    static func config(tied: Bool = true, kvHeads: Int = 2, bias: Bool = false) -> DecoderConfig {
        var c = TinyLlama.config
        c.tieWordEmbeddings = tied
        c.numKVHeads = kvHeads
        c.attentionBias = bias
        return c
    }

    /// Weights lively enough for gradient checks: std 0.2 matrices and norm weights 1 ± 0.3, so a
    /// term that ignores a weight or a transpose shows up clearly.
    static func weights(_ c: DecoderConfig, seed: UInt64 = 1) -> [String: Tensor] {
        let w = TinyLlama.weights(config: c, seed: seed, std: 0.2)
        var d = TestData(seed: seed + 100)
        for name in w.keys.sorted() where name.hasSuffix("norm.weight") {
            let t = w[name]!
            for i in 0..<t.count { t[i] = 1 + 0.3 * d.rng.nextNormal() }
        }
        return w
    }

    /// Tokens, targets (next token; a few ignored) and a loss mask for [batch, seq].
    static func batch(_ batch: Int, _ seq: Int, vocab: Int, seed: UInt64 = 5) -> (tokens: [Int32], targets: [Int32], mask: [Bool]) {
        var d = TestData(seed: seed)
        let n = batch * seq
        let tokens = (0..<n).map { _ in Int32(d.int(vocab)) }
        var targets = (0..<n).map { _ in Int32(d.int(vocab)) }
        targets[1] = CrossEntropy.ignoreIndex
        let mask = (0..<n).map { $0 % seq >= 2 }   // a "prompt" of 2 positions per sequence
        return (tokens, targets, mask)
    }
}
