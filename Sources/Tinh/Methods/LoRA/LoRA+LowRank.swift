extension LoRA: LowRankAdapter {
    /// (A, B, s) as trained. A PiSSA-initialised LoRA ran on the residual W − s·B₀·A₀, so against
    /// the original W its change is s·[B, −B₀]·[A; A₀]: rank 2r, exact.
    public func lowRankFactors() -> LowRankFactors {
        let a = Tensor(shape: [rank, inFeatures]), b = Tensor(shape: [outFeatures, rank])
        a.data.update(from: parameters.value(slotA), count: a.count)
        b.data.update(from: parameters.value(slotB), count: b.count)
        guard let (a0, b0) = pissaInitial else { return LowRankFactors(a: a, b: b, scale: scale) }
        let stackedA = Tensor(shape: [2 * rank, inFeatures]), joinedB = Tensor(shape: [outFeatures, 2 * rank])
        stackedA.data.update(from: a.data, count: a.count)
        (stackedA.data + a.count).update(from: a0.data, count: a0.count)
        for o in 0..<outFeatures {
            for j in 0..<rank {
                joinedB.data[o * 2 * rank + j] = b.data[o * rank + j]
                joinedB.data[o * 2 * rank + rank + j] = -b0.data[o * rank + j]
            }
        }
        return LowRankFactors(a: stackedA, b: joinedB, scale: scale)
    }
}
