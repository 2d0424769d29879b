/// The BPE merge loop over one pre-token word. Symbols are token ids from the start: the word's
/// bytes map to their single-byte tokens, and a merge of two adjacent ids looks up one dictionary
/// keyed by the id pair. The lowest-ranked adjacent pair merges first, leftmost first on ties,
/// using a doubly linked list and a min-heap, so a long word costs O(n log n), not O(n²).
struct BPEMerger: Sendable {
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// The token for each single byte; -1 if the vocabulary lacks it.
    private let byteTokens: [Int32]
    private let unknown: Int32?

    init(merges: [UInt64: UInt64], byteTokens: [Int32], unknown: Int32?) {
        self.merges = merges
        self.byteTokens = byteTokens
        self.unknown = unknown
    }

    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the word's tokens to `ids` and each token's byte length to `lengths`. A byte with no
    /// token becomes the unknown token, or is dropped when there is none.
    func encode(_ word: UnsafeBufferPointer<UInt8>, ids: inout [Int32], lengths: inout [Int32]) {
        guard !word.isEmpty else { return }
        merge(symbols: word.map { byteTokens[Int($0)] }, widths: [Int32](repeating: 1, count: word.count),
              ids: &ids, lengths: &lengths)
    }

    /// The merge loop over initial symbols (ids, -1 for none) and the input bytes each covers.
    func merge(symbols initial: [Int32], widths initialWidths: [Int32], ids: inout [Int32], lengths: inout [Int32]) {
        let n = initial.count
        guard n > 0 else { return }
        var symbol = initial
        var width = initialWidths
        var next = [Int32](repeating: -1, count: n)
        var prev = [Int32](repeating: -1, count: n)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }

        // Heap entries are (rank << 32 | left position): smallest rank first, then leftmost.
        var heap = MinHeap()
        func pushPair(_ left: Int32) {
            guard left >= 0 else { return }
            let right = next[Int(left)]
            guard right >= 0, symbol[Int(left)] >= 0, symbol[Int(right)] >= 0,
                  let m = merges[BPEMerger.pairKey(symbol[Int(left)], symbol[Int(right)])]
            else { return }
            heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(UInt32(left)))
        }
        for i in 0..<(n - 1) where symbol[i] >= 0 { pushPair(Int32(i)) }

        while let entry = heap.pop() {
            let left = Int(entry & 0xFFFF_FFFF)
            let right = Int(next[left])
            // Entries go stale when a neighbour merged; the pair still there must have this rank.
            guard right >= 0, symbol[left] >= 0, symbol[right] >= 0,
                  let m = merges[BPEMerger.pairKey(symbol[left], symbol[right])],
                  m >> 32 == entry >> 32 else { continue }
            symbol[left] = Int32(truncatingIfNeeded: m)
            width[left] += width[right]
            symbol[right] = -1
            let after = next[right]
            next[left] = after
            if after >= 0 { prev[Int(after)] = Int32(left) }
            pushPair(prev[left])
            pushPair(Int32(left))
        }

        var i: Int32 = 0
        while i >= 0 {
            let s = symbol[Int(i)]
            if s >= 0 {
                ids.append(s); lengths.append(width[Int(i)])
            } else if let unknown {
                ids.append(unknown); lengths.append(width[Int(i)])
            }
            i = next[Int(i)]
        }
    }
}

/// A binary min-heap of UInt64 keys; just what the merge loop needs.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && items[l] < items[smallest] { smallest = l }
                if r < items.count && items[r] < items[smallest] { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
