import Foundation

/// A stretch of text in Unicode NFC (Qwen2's normalizer), and how its bytes map back to the input,
/// so token offsets still point into the text the caller gave.
struct NFCStretch {
    let bytes: [UInt8]
    /// For each normalized byte offset (and the end), the input offset it maps to. Bytes inside a
    /// recomposed cluster map to the cluster's start.
    private let origin: [Int]

    /// nil when the stretch is already NFC (nothing to map).
    init?(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        let slice = UnsafeBufferPointer(rebasing: buffer[range])
        if !slice.contains(where: { $0 >= 0x80 }) { return nil }
        let text = String(decoding: slice, as: UTF8.self)
        if text.precomposedStringWithCanonicalMapping.utf8.elementsEqual(slice) { return nil }
        // Normalize cluster by cluster (a starter and the marks after it), so each output byte knows
        // its input cluster. Conjoining Hangul vowels and finals join the cluster before them.
        var out: [UInt8] = [], origin: [Int] = []
        var cluster = String.UnicodeScalarView(), clusterStart = range.lowerBound, offset = range.lowerBound
        func flush() {
            guard !cluster.isEmpty else { return }
            let nfc = Array(String(cluster).precomposedStringWithCanonicalMapping.utf8)
            out += nfc
            origin += [Int](repeating: clusterStart, count: nfc.count)
            cluster = String.UnicodeScalarView()
        }
        for s in text.unicodeScalars {
            let joins = s.properties.canonicalCombiningClass.rawValue != 0 || (0x1160...0x11FF).contains(s.value)
            if !joins { flush(); clusterStart = offset }
            cluster.append(s)
            offset += UTF8.width(s)
        }
        flush()
        origin.append(range.upperBound)
        self.bytes = out
        self.origin = origin
    }

    /// Token lengths over the normalized bytes, turned into lengths over the input.
    func originalLengths(_ lengths: [Int32]) -> [Int32] {
        var result: [Int32] = [], at = 0
        result.reserveCapacity(lengths.count)
        for l in lengths {
            let end = at + Int(l)
            result.append(Int32(origin[end] - origin[at]))
            at = end
        }
        return result
    }
}
