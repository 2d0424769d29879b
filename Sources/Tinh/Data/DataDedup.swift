import Foundation

/// `tinh data dedup`: copies a JSONL file without its exact duplicates (same normalized text as an
/// earlier record) and, with a threshold, without records that are near duplicates of an earlier
/// kept one. Kept lines are copied byte for byte, in order; blank lines are dropped; malformed
/// lines are kept (and counted) so nothing is lost silently. The output is written atomically.
public enum DataDedup {
    public struct Result: Equatable, Sendable {
        public var kept = 0
        public var exactRemoved: [Int] = []
        public var nearRemoved: [Int] = []
        public var malformedKept = 0

        public var summary: String {
            "kept \(kept) line(s); removed \(exactRemoved.count) exact and \(nearRemoved.count) near duplicate(s)"
                + (malformedKept > 0 ? "; \(malformedKept) malformed line(s) kept as they were (see tinh data check)" : "")
        }
    }

    public static func run(input: String, output: String, nearThreshold: Double? = nil) throws -> Result {
        if let t = nearThreshold, !(t > 0 && t <= 1) { throw TinhError.invalidInput("--near must be in (0, 1], got \(t)") }
        if URL(fileURLWithPath: input).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL {
            throw TinhError.invalidInput("dedup: OUT must differ from IN (\(input))")
        }
        let file = try DataLineCheck.scan(path: input)
        var result = Result()
        var seen = Set<String>()
        var candidates: [(index: Int, text: String)] = []  // first occurrences, index into file.lines
        var drop = Set<Int>()
        for (index, line) in file.lines.enumerated() {
            guard let record = line.record else { result.malformedKept += 1; continue }
            let text = DataLineCheck.normalizedText(record)
            if seen.insert(text).inserted { candidates.append((index, text)) } else {
                drop.insert(index)
                result.exactRemoved.append(line.line)
            }
        }
        if let threshold = nearThreshold {
            let minHash = MinHash(threshold: threshold)
            let shingles = candidates.map { minHash.shingles($0.text) }
            // Greedy in file order: a record goes when it is near an earlier record that stays.
            var removed = Set<Int>()
            for (i, j, _) in minHash.similarPairs(shingleSets: shingles, threshold: threshold) where !removed.contains(i) && !removed.contains(j) {
                removed.insert(j)
            }
            for c in removed.sorted() {
                drop.insert(candidates[c].index)
                result.nearRemoved.append(file.lines[candidates[c].index].line)
            }
        }
        var out = Data()
        for (index, line) in file.lines.enumerated() where !drop.contains(index) {
            out.append(line.bytes)
            out.append(0x0A)
            result.kept += 1
        }
        try AtomicFile.write(out, to: output)
        result.exactRemoved.sort()
        result.nearRemoved.sort()
        return result
    }
}
