import Foundation

/// Near-duplicate detection: MinHash signatures over word shingles, candidate pairs from LSH bands,
/// each candidate confirmed by the exact Jaccard similarity of the two shingle sets (so LSH only
/// decides which pairs get compared; a reported similarity is never an estimate).
///
/// Everything is deterministic: shingle hashes are FNV-1a, and the 128 hash functions are
/// h_i(x) = a(x) + i·b(x) (Kirsch–Mitzenmacher double hashing) with a, b from SplitMix64 under fixed seeds.
public struct MinHash: Sendable {
    public static let hashCount = 128
    /// Words per shingle.
    public let shingleWords: Int
    /// Bands × rows ≤ `hashCount`; more rows per band compare fewer, more similar pairs.
    public let bands: Int
    public let rows: Int

    /// A pair at exactly the threshold is missed (shares no band) with probability
    /// (1 − J^rows)^bands; the banding is the one with the most rows per band (fewest candidates to
    /// confirm) that keeps this at most `maxMiss`. Threshold 0.8: 25 bands × 5 rows, miss 5·10⁻⁵.
    public static let maxMiss = 1e-3

    public init(threshold: Double, shingleWords: Int = 3) {
        self.shingleWords = max(1, shingleWords)
        var choice = (bands: MinHash.hashCount, rows: 1)
        for rows in 2...16 {
            let bands = MinHash.hashCount / rows
            if pow(1 - pow(threshold, Double(rows)), Double(bands)) <= MinHash.maxMiss { choice = (bands, rows) }
        }
        (bands, rows) = (choice.bands, choice.rows)
    }

    /// The sorted, distinct hashes of the word shingles of `normalized` (words split on spaces).
    /// A text shorter than one shingle is one shingle of all its words.
    public func shingles(_ normalized: String) -> [UInt64] {
        let words = normalized.split(separator: " ")
        guard !words.isEmpty else { return [] }
        let k = min(shingleWords, words.count)
        var hashes: [UInt64] = []
        hashes.reserveCapacity(words.count - k + 1)
        for start in 0...(words.count - k) {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for word in words[start..<(start + k)] {
                for byte in word.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
                h = (h ^ 0x20) &* 0x0000_0100_0000_01B3
            }
            hashes.append(h)
        }
        hashes.sort()
        var distinct: [UInt64] = []
        distinct.reserveCapacity(hashes.count)
        for h in hashes where distinct.last != h { distinct.append(h) }
        return distinct
    }

    /// The `hashCount` minimum hashes of a shingle set.
    public func signature(_ shingles: [UInt64]) -> [UInt64] {
        var minima = [UInt64](repeating: .max, count: MinHash.hashCount)
        for s in shingles {
            let a = DataSplit.splitMix64(s ^ 0x5851_F42D_4C95_7F2D)
            let b = DataSplit.splitMix64(s ^ 0x1405_7B7E_F767_814F) | 1
            var h = a
            for i in 0..<MinHash.hashCount {
                if h < minima[i] { minima[i] = h }
                h = h &+ b
            }
        }
        return minima
    }

    /// Pairs (i, j), i < j, of items that share at least one band, each pair once, sorted.
    public func candidatePairs(_ signatures: [[UInt64]]) -> [(Int, Int)] {
        var seen = Set<UInt64>()
        var pairs: [(Int, Int)] = []
        for band in 0..<bands {
            var buckets: [UInt64: [Int]] = [:]
            for (item, signature) in signatures.enumerated() where !signature.isEmpty {
                var key = DataSplit.splitMix64(UInt64(band))
                for r in 0..<rows { key = DataSplit.splitMix64(key ^ signature[band * rows + r]) }
                buckets[key, default: []].append(item)
            }
            for members in buckets.values where members.count > 1 {
                for x in 0..<members.count {
                    for y in (x + 1)..<members.count {
                        let (i, j) = (members[x], members[y])
                        if seen.insert(UInt64(i) << 32 | UInt64(j)).inserted { pairs.append((i, j)) }
                    }
                }
            }
        }
        return pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    }

    /// |a ∩ b| / |a ∪ b| of two sorted, distinct hash lists.
    public static func jaccard(_ a: [UInt64], _ b: [UInt64]) -> Double {
        if a.isEmpty && b.isEmpty { return 1 }
        var i = 0, j = 0, common = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] { common += 1; i += 1; j += 1 } else if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return Double(common) / Double(a.count + b.count - common)
    }

    /// Confirmed pairs (i, j, similarity) with similarity ≥ `threshold`, among `candidates`.
    public func similarPairs(shingleSets: [[UInt64]], threshold: Double, candidates: [(Int, Int)]? = nil) -> [(Int, Int, Double)] {
        let pairs = candidates ?? candidatePairs(shingleSets.map(signature))
        return pairs.compactMap { i, j in
            let s = MinHash.jaccard(shingleSets[i], shingleSets[j])
            return s >= threshold ? (i, j, s) : nil
        }
    }
}
