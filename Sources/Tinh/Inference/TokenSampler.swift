import Foundation

/// Picks the next token from a row of logits: greedy at temperature 0, else softmax at the
/// temperature restricted to the smallest set of tokens whose probability reaches `topP`.
public struct TokenSampler {
    public var temperature: Float
    public var topP: Float
    public var rng: SeededGenerator

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) throws {
        guard temperature >= 0, temperature.isFinite else { throw TinhError.invalidInput("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw TinhError.invalidInput("--top-p must be in (0, 1]") }
        self.temperature = temperature
        self.topP = topP
        self.rng = SeededGenerator(seed: seed)
    }

    public mutating func next(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        if temperature == 0 { return Int32(TopK.indices(logits, k: 1)[0]) }
        let maxLogit = logits.max() ?? 0
        var order = Array(logits.indices)
        var probs = logits.map { Double(exp(($0 - maxLogit) / temperature)) }
        let total = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= total }
        order.sort { probs[$0] > probs[$1] }
        var kept = 0, mass = 0.0
        while kept < order.count {
            mass += probs[order[kept]]
            kept += 1
            if mass >= Double(topP) { break }
        }
        var draw = rng.nextDouble() * mass
        for i in order.prefix(kept) {
            draw -= probs[i]
            if draw <= 0 { return Int32(i) }
        }
        return Int32(order[kept - 1])
    }
}
