/// Which examples make up each global batch. The stream of samples is the concatenation of one
/// seeded permutation of the dataset per epoch, so the global batch at step t is a pure function
/// of (seed, t): N ranks and 1 rank see the same batches, and a resumed run lands on the same sample.
/// Rank k of N takes the k-th contiguous slice of each global batch.
public final class BatchSampler {
    public let datasetSize: Int
    public let globalBatch: Int
    public let seed: UInt64
    public let shuffle: Bool
    private var cachedEpoch = -1
    private var cachedOrder: [Int] = []

    public init(datasetSize: Int, globalBatch: Int, seed: UInt64, shuffle: Bool = true) throws {
        guard datasetSize > 0 else { throw TinhError.invalidInput("the dataset is empty") }
        guard globalBatch > 0 else { throw TinhError.invalidInput("the batch size must be positive, got \(globalBatch)") }
        self.datasetSize = datasetSize
        self.globalBatch = globalBatch
        self.seed = seed
        self.shuffle = shuffle
    }

    /// The epoch (pass over the data) that step `step`'s first sample belongs to.
    public func epoch(atStep step: Int) -> Int { step * globalBatch / datasetSize }

    /// Dataset indices of the whole global batch at `step`.
    public func globalIndices(step: Int) -> [Int] {
        (0..<globalBatch).map { j in sample(step * globalBatch + j) }
    }

    /// This rank's share of the global batch at `step`.
    public func indices(step: Int, rank: Int, worldSize: Int) throws -> [Int] {
        guard worldSize > 0, rank >= 0, rank < worldSize else {
            throw TinhError.invalidInput("rank \(rank) outside a job of \(worldSize)")
        }
        guard globalBatch % worldSize == 0 else {
            throw TinhError.invalidInput("the global batch (\(globalBatch)) must divide evenly over \(worldSize) ranks")
        }
        let share = globalBatch / worldSize
        return (0..<share).map { j in sample(step * globalBatch + rank * share + j) }
    }

    /// The dataset index of the g-th sample of the stream.
    private func sample(_ g: Int) -> Int {
        let epoch = g / datasetSize, position = g % datasetSize
        guard shuffle else { return position }
        if epoch != cachedEpoch {
            cachedOrder = Array(0..<datasetSize)
            // One generator per epoch, derived from (seed, epoch): no state carries between epochs.
            var rng = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
            // Fisher-Yates written out: the stdlib's shuffle may change between Swift versions.
            for i in stride(from: datasetSize - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                cachedOrder.swapAt(i, j)
            }
            cachedEpoch = epoch
        }
        return cachedOrder[position]
    }
}
