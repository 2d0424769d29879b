/// Deterministic train/valid split. Example i is held out when a hash of (seed, i) falls below
/// `fraction`, so its side depends only on (seed, i, fraction): appending examples to a file does
/// not move the earlier ones. Two fix-ups keep both sides useful: with a positive fraction and at
/// least 2 examples, valid gets at least one example (the lowest hash), and train is never empty
/// (the highest hash goes back). With fewer than 2 examples nothing is held out.
public enum DataSplit {
    public static func split(count: Int, fraction: Double, seed: UInt64) -> (train: [Int], valid: [Int]) {
        let all = Array(0..<max(0, count))
        guard fraction > 0, count >= 2 else { return (all, []) }
        let scores = all.map { unitScore(seed: seed, index: $0) }
        var held = all.map { scores[$0] < fraction }
        if !held.contains(true), let lowest = all.min(by: { scores[$0] < scores[$1] }) { held[lowest] = true }
        if !held.contains(false), let highest = all.max(by: { scores[$0] < scores[$1] }) { held[highest] = false }
        return (all.filter { !held[$0] }, all.filter { held[$0] })
    }

    /// A uniform number in [0, 1) from (seed, index).
    static func unitScore(seed: UInt64, index: Int) -> Double {
        let h = splitMix64(splitMix64(seed) ^ UInt64(truncatingIfNeeded: index))
        return Double(h >> 11) * 0x1p-53
    }

    /// SplitMix64's output function: a strong 64-bit mixer.
    static func splitMix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
