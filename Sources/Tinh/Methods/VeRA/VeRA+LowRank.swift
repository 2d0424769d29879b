extension VeRA: LowRankAdapter {
    /// ΔW = diag(b)·B[:out, :]·diag(d)·A[:, :in] as a rank-r LoRA: B' = diag(b)·B[:out, :] and
    /// A' = diag(d)·A[:, :in], scale 1. Each entry is one product of the stored values (the
    /// forward's M = diag(b)·B·diag(d) rounds the same products in another order).
    public func lowRankFactors() -> LowRankFactors {
        let a = Tensor(shape: [rank, inFeatures]), b = Tensor(shape: [outFeatures, rank])
        let d = parameters.value(slotD), bVec = parameters.value(slotB)
        for k in 0..<rank {
            let src = shared.a.data + k * shared.maxIn, row = a.data + k * inFeatures
            for i in 0..<inFeatures { row[i] = d[k] * src[i] }
        }
        for o in 0..<outFeatures {
            let src = shared.b.data + o * rank, row = b.data + o * rank
            for k in 0..<rank { row[k] = bVec[o] * src[k] }
        }
        return LowRankFactors(a: a, b: b, scale: 1)
    }
}
