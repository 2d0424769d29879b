import Foundation

/// Deterministic random numbers: xoshiro256** seeded through SplitMix64.
/// Every random draw in Tinh comes from one of these; `state` can be saved in a checkpoint and
/// restored with `init(state:)` so that a resumed run continues the exact same stream.
public struct SeededGenerator: RandomNumberGenerator, Codable, Equatable, Sendable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var sm = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 { s[i] = SeededGenerator.splitMix64(&sm) }
        // xoshiro must not start from the all-zero state (SplitMix64 never yields four zeros, but be explicit).
        if s.allSatisfy({ $0 == 0 }) { s[0] = 0x9E37_79B9_7F4A_7C15 }
        state = s
    }

    /// Restores a generator from a saved `state` (4 words, not all zero).
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw TinhError.invalidInput("random generator state must be 4 words, not all zero (got \(state.count))")
        }
        self.state = state
    }

    static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = SeededGenerator.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = SeededGenerator.rotl(state[3], 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal draw (Box-Muller; one value per call, deterministic).
    public mutating func nextNormal() -> Float {
        let u1 = 1 - nextDouble()            // (0, 1]: log is finite
        let u2 = nextDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Fills `n` floats at `p` with normal(0, std) draws.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count n: Int, std: Float) {
        for i in 0..<n { p[i] = nextNormal() * std }
    }

    /// Fills `n` floats at `p` uniformly in [lo, hi).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count n: Int, lo: Float, hi: Float) {
        for i in 0..<n { p[i] = lo + (hi - lo) * nextFloat() }
    }
}
