/// ΔW = scale·B·A with B [out, r] and A [r, in]: the form a LoRA file (PEFT's, llama.cpp's
/// GGUF adapter) carries. Every method whose change of W is such a product, exactly, gives its
/// factors: LoRA and its variants as trained, VeRA with its vectors folded into the shared
/// projections, AdaLoRA with λ folded into Q and its pruned triplets dropped.
public struct LowRankFactors {
    /// [r, in]
    public let a: Tensor
    /// [out, r]
    public let b: Tensor
    public let scale: Float

    public init(a: Tensor, b: Tensor, scale: Float) {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[0] == b.shape[1], "LoRA factors \(b.shape)·\(a.shape) do not chain")
        self.a = a
        self.b = b
        self.scale = scale
    }

    public var rank: Int { a.shape[0] }

    /// ΔW [out, in] in Float32 (for tests and merges of small modules).
    public func delta() -> Tensor {
        let (out, inFeatures) = (b.shape[0], a.shape[1])
        let w = Tensor(shape: [out, inFeatures])
        if rank > 0 {
            BLAS.gemm(.none, .none, m: out, n: inFeatures, k: rank, alpha: scale, a: b.data, b: a.data, c: w.data)
        }
        return w
    }
}

/// An adapter whose ΔW is exactly a `LowRankFactors`.
public protocol LowRankAdapter: MergeableAdapter {
    func lowRankFactors() throws -> LowRankFactors
}
