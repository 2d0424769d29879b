/// How a flat gradient buffer splits into all-reduce buckets, in backward order.
///
/// The buffer holds the gradients of layers 0, 1, …, L−1 in that order (plus, possibly, tensors
/// that belong to no layer). Backward finishes layer L−1 first, so buckets are cut from the end
/// of the buffer: each bucket is a run of whole layers of at least `bucketFloats` floats (the
/// first layers' remainder may be smaller), and it is ready once backward has finished the lowest
/// layer in it. A bucket boundary never splits a layer and never changes which values are summed
/// per element, so bucketed and fused all-reduces agree bit for bit wherever MPI's per-element
/// order does not depend on the message (always with 2 ranks, whose sum is a+b either way).
public struct GradientBuckets: Equatable, Sendable {
    public struct Bucket: Equatable, Sendable {
        public var range: Range<Int>
        /// The lowest layer whose gradients the bucket holds; ready once backward has finished it.
        /// `GradientBuckets.afterBackward` (below every layer): ready only when backward returns.
        public var readyAfterLayer: Int
    }

    /// Tensors outside the blocks (embeddings written at the very end of backward) carry this layer.
    public static let afterBackward = -1

    /// In the order their all-reduces start: the buffer's end first.
    public let buckets: [Bucket]
    public let count: Int

    /// `segments`: each (layer, range) of the buffer in buffer order, adjacent, covering 0..<count,
    /// with non-decreasing layers. `bucketFloats` ≤ 0: one bucket for everything.
    public init(segments: [(layer: Int, range: Range<Int>)], count: Int, bucketFloats: Int) {
        precondition(segments.first.map { $0.range.lowerBound == 0 } ?? (count == 0), "segments must start at 0")
        precondition(zip(segments, segments.dropFirst()).allSatisfy { $0.range.upperBound == $1.range.lowerBound && $0.layer <= $1.layer },
                     "segments must be adjacent and in layer order")
        precondition((segments.last?.range.upperBound ?? 0) == count, "segments must cover the buffer")
        self.count = count
        // Whole layers (adjacent segments of one layer merged), then grouped from the end.
        var layers: [(layer: Int, range: Range<Int>)] = []
        for s in segments where !s.range.isEmpty {
            if let last = layers.last, last.layer == s.layer {
                layers[layers.count - 1].range = last.range.lowerBound..<s.range.upperBound
            } else {
                layers.append(s)
            }
        }
        var out: [Bucket] = []
        var end = count, lowest = Int.max
        for l in layers.reversed() {
            lowest = min(lowest, l.layer)
            if bucketFloats > 0, end - l.range.lowerBound >= bucketFloats {
                out.append(Bucket(range: l.range.lowerBound..<end, readyAfterLayer: lowest))
                end = l.range.lowerBound
                lowest = Int.max
            }
        }
        if end > 0 { out.append(Bucket(range: 0..<end, readyAfterLayer: layers.first?.layer ?? Self.afterBackward)) }
        buckets = out
    }

    /// Floats of `megabytes` MiB (at least one).
    public static func floats(megabytes: Double) -> Int { max(1, Int((megabytes * 1_048_576 / 4).rounded())) }
}
