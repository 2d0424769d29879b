extension LoRAFA: LowRankAdapter {
    /// (A frozen, B trained, s).
    public func lowRankFactors() -> LowRankFactors {
        let fixed = Tensor(shape: [rank, inFeatures]), b = Tensor(shape: [outFeatures, rank])
        fixed.data.update(from: a.data, count: fixed.count)
        b.data.update(from: parameters.value(slotB), count: b.count)
        return LowRankFactors(a: fixed, b: b, scale: scale)
    }
}
