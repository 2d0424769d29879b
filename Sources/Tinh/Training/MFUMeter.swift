/// The training log's MFU: each step's FLOPs (`StepFlops`, from the share of positions in its
/// loss) per second over the FMA peak of every core the job computes on (`FMAPeak` on each rank ×
/// its BLAS threads, summed over the ranks once at start).
struct MFUMeter {
    /// FLOPs per token with no position in the loss, and what each loss position adds.
    let flopsPerToken: Double
    let flopsPerLossShare: Double
    /// The job's FMA peak, FLOP/s.
    let peak: Double

    /// Measures this rank's core (about 50 ms) and sums the peaks over the ranks: a collective.
    init(model: DecoderModel, adapters: AdapterSet, seq: Int, comm: Communicator) throws {
        let none = StepFlops(model: model, adapters: adapters, seq: seq, lossFraction: 0).total
        flopsPerToken = none
        flopsPerLossShare = StepFlops(model: model, adapters: adapters, seq: seq, lossFraction: 1).total - none
        var peaks = [FMAPeak.measure(seconds: 0.05).perCoreGFLOPS * 1e9 * Double(BLAS.threads)]
        try comm.allreduceSum(&peaks)
        peak = peaks[0]
    }

    /// Achieved over peak for a step of `positions` tokens (all ranks), `lossTokens` of them in
    /// the loss, that took `seconds`.
    func mfu(positions: Int, lossTokens: Int, seconds: Double) -> Double {
        guard positions > 0, seconds > 0, peak > 0 else { return 0 }
        let perToken = flopsPerToken + flopsPerLossShare * Double(lossTokens) / Double(positions)
        return perToken * Double(positions) / seconds / peak
    }
}
