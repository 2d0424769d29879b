extension AdaLoRA: LowRankAdapter {
    /// ΔW = s·P·diag(λ)·Q as a LoRA of the triplets still alive (λ ≠ 0; the budget sets pruned
    /// ones to exactly 0): B = P[:, kept], A = diag(λ[kept])·Q[kept, :]. Its rank is the module's
    /// final budget, so ranks differ between modules.
    public func lowRankFactors() -> LowRankFactors {
        let q = parameters.value(slotA), e = parameters.value(slotE), p = parameters.value(slotB)
        let kept = (0..<rank).filter { e[$0] != 0 }
        let a = Tensor(shape: [kept.count, inFeatures]), b = Tensor(shape: [outFeatures, kept.count])
        for (j, k) in kept.enumerated() {
            for i in 0..<inFeatures { a.data[j * inFeatures + i] = e[k] * q[k * inFeatures + i] }
            for o in 0..<outFeatures { b.data[o * kept.count + j] = p[o * rank + k] }
        }
        return LowRankFactors(a: a, b: b, scale: scale)
    }
}
