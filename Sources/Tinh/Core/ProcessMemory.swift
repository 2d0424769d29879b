import Foundation

/// This process's proportional set size (Linux): resident pages, each shared page divided by the
/// number of processes mapping it. Summed over the ranks of a node it is the node's real use, so
/// a base shared through the page cache counts once, not once per rank.
public enum ProcessMemory {
    /// PSS of the whole process in MiB (/proc/self/smaps_rollup), nil where unavailable.
    public static func pssMegabytes() -> Double? {
        var pss: Double?
        guard forEachLine(of: "/proc/self/smaps_rollup", { line in
            if pss == nil, line.hasPrefix("Pss:") { pss = kilobytes(line) }
        }) else { return nil }
        return pss.map { $0 / 1024 }
    }

    /// PSS in MiB of this process's mappings of the file at `path` (/proc/self/smaps), nil where unavailable.
    public static func pssMegabytes(ofMapping path: String) -> Double? {
        mappingMegabytes(path)?.pss
    }

    /// Resident (RSS) and proportional (PSS) MiB of this process's mappings of the file at `path`,
    /// read in one pass so both describe the same moment. PSS/RSS is 1 for pages this process
    /// alone maps and 1/N for pages N processes share, whatever share of the file is resident
    /// (the kernel may reclaim clean file pages at any time).
    public static func mappingMegabytes(_ path: String) -> (rss: Double, pss: Double)? {
        let target = (path as NSString).resolvingSymlinksInPath
        var inTarget = false, total = 0.0, rss = 0.0
        guard forEachLine(of: "/proc/self/smaps", { line in
            let first = line.prefix { $0 != " " }
            if first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // A mapping's header: "start-end perms offset dev inode   /path".
                inTarget = line.firstIndex(of: "/").map { line[$0...] == target } ?? false
            } else if inTarget, line.hasPrefix("Pss:"), let kb = kilobytes(line) {
                total += kb
            } else if inTarget, line.hasPrefix("Rss:"), let kb = kilobytes(line) {
                rss += kb
            }
        }) else { return nil }
        return (rss / 1024, total / 1024)
    }

    /// Reads a /proc file line by line (they report size 0, so read until EOF); false if it cannot be opened.
    private static func forEachLine(of path: String, _ body: (Substring) -> Void) -> Bool {
        guard let f = fopen(path, "r") else { return false }
        defer { fclose(f) }
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        while getline(&buffer, &capacity, f) > 0, let buffer {
            let line = String(cString: buffer)
            body(Substring(line.hasSuffix("\n") ? String(line.dropLast()) : line))
        }
        return true
    }

    private static func kilobytes(_ line: Substring) -> Double? {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Double($0) }
    }
}
