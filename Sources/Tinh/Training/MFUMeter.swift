/// The training log's MFU: each step's FLOPs (`StepFlops`, from the share of positions in its
/// loss and the keys each query attends to) per second over the FMA peak of every core the job
/// computes on (`FMAPeak` on each rank × its BLAS threads, summed over the ranks once at start).
struct MFUMeter {
    /// FLOPs per token with no position in the loss, at `seq` (padded rows); what each loss
    /// position adds; and what each attended key adds (attention is the only part that grows with it).
    let flopsPerToken: Double
    let flopsPerLossShare: Double
    let flopsPerKey: Double
    let seq: Int
    /// The job's FMA peak, FLOP/s.
    let peak: Double

    /// Measures this rank's core (about 50 ms) and sums the peaks over the ranks: a collective.
    init(model: DecoderModel, adapters: AdapterSet, seq: Int, comm: Communicator) throws {
        func flops(_ seq: Int, _ loss: Double) -> Double { StepFlops(model: model, adapters: adapters, seq: seq, lossFraction: loss).total }
        flopsPerToken = flops(seq, 0)
        flopsPerLossShare = flops(seq, 1) - flopsPerToken
        // StepFlops counts (seq + 1)/2 keys per query: seq 3 sees one key more than seq 1.
        flopsPerKey = flops(3, 0) - flops(1, 0)
        self.seq = seq
        var peaks = [FMAPeak.measure(seconds: 0.05).perCoreGFLOPS * 1e9 * Double(BLAS.threads)]
        try comm.allreduceSum(&peaks)
        peak = peaks[0]
    }

    /// Achieved over peak for a step of `positions` tokens (all ranks), `lossTokens` of them in
    /// the loss, that took `seconds`. `attendedKeys` (Σ over queries of the keys each sees) for
    /// varlen batches; nil: padded rows of `seq`.
    func mfu(positions: Int, lossTokens: Int, seconds: Double, attendedKeys: Int? = nil) -> Double {
        guard positions > 0, seconds > 0, peak > 0 else { return 0 }
        var perToken = flopsPerToken + flopsPerLossShare * Double(lossTokens) / Double(positions)
        if let attendedKeys {
            perToken += flopsPerKey * (Double(attendedKeys) / Double(positions) - Double(seq + 1) / 2)
        }
        return perToken * Double(positions) / seconds / peak
    }
}
