import Foundation

/// How a model rescales RoPE's inverse frequencies θ^(−2i/d) for a longer context, as
/// transformers' `ROPE_INIT_FUNCTIONS` do it. Every kind here changes the arithmetic, so a kind
/// Tinh does not implement is refused at load (`HFConfig`, `GGUFModelLoader`), never ignored.
public enum RoPEScaling: Codable, Equatable, Sendable {
    /// Positions divided by `factor` (transformers' "linear"): every frequency / factor.
    case linear(factor: Float)
    /// Llama 3.1's scheme: long wavelengths (> original context / low_freq_factor) divided by
    /// `factor`, short ones (< original context / high_freq_factor) kept, a smooth blend between.
    case llama3(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int)
    /// Per-frequency divisors as llama.cpp stores them (`rope_freqs.weight` in a GGUF: Llama 3.1's
    /// scheme precomputed by the converter), one per rotated pair.
    case divisors([Float])

    /// The scaled inverse frequencies for `invFreq` (one per rotated pair, in Float32 as
    /// transformers computes them).
    public func apply(to invFreq: [Float]) -> [Float] {
        switch self {
        case .linear(let factor):
            return invFreq.map { $0 / factor }
        case .llama3(let factor, let low, let high, let original):
            let old = Float(original)
            let lowWavelength = old / low, highWavelength = old / high
            return invFreq.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let smooth = (old / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        case .divisors(let d):
            return zip(invFreq, d).map { $0 / $1 }
        }
    }

    /// Checks the parameters describe a scaling that can exist (`pairs`: headDim / 2).
    public func validate(pairs: Int) throws {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw TinhError.invalidInput("model config: rope scaling \(what)") }
        }
        switch self {
        case .linear(let factor):
            try need(factor > 0 && factor.isFinite, "factor must be positive, got \(factor)")
        case .llama3(let factor, let low, let high, let original):
            try need(factor > 0 && factor.isFinite, "factor must be positive, got \(factor)")
            try need(low > 0 && high > low, "needs 0 < low_freq_factor < high_freq_factor, got \(low) and \(high)")
            try need(original > 0, "original_max_position_embeddings must be positive, got \(original)")
        case .divisors(let d):
            try need(d.count == pairs, "has \(d.count) frequency factors for \(pairs) rotated pairs")
            try need(d.allSatisfy { $0 > 0 && $0.isFinite }, "frequency factors must be positive")
        }
    }

    /// For `tinh inspect`.
    public var summary: String {
        switch self {
        case .linear(let f): return "linear ×\(f)"
        case .llama3(let f, let lo, let hi, let o): return "llama3 (factor \(f), low \(lo), high \(hi), original context \(o))"
        case .divisors(let d): return "per-frequency factors (\(d.count), from rope_freqs)"
        }
    }
}
