/// VeRA (Kopiczko et al., 2024): y = x·Wᵀ + b ⊙ (B[:out, :]·(d ⊙ (A[:, :in]·x))) with one frozen
/// random pair A [r, maxIn], B [maxOut, r] shared by every adapted layer (`VeRAShared`) and only
/// d [r] and b [out] trained per layer. d starts at `--vera-d-init` (0.1) and b at zero, so
/// training starts from the base model exactly. Trainable count: Σ (r + out) over the targets.
///
/// With M = diag(b)·B[:out, :]·diag(d) [out, r] and u = x·A[:, :in]ᵀ [rows, r] (shared by the
/// adapters reading the same input), every product is one GEMM:
///     forward   y  += u·Mᵀ
///     backward  G   = dyᵀ·u [out, r];  db += (B ⊙ G)·d;  dd += (B ⊙ G)ᵀ·b
///               du += dy·M  (summed over the input's adapters), then dx += du·A[:, :in] once.
public final class VeRA: LinearAdapter {
    public let rank: Int
    let inFeatures: Int
    let outFeatures: Int
    let parameters: AdapterParameters
    let shared: VeRAShared
    let input: VeRAInput
    let slotD: Int
    let slotB: Int
    let initialD: Float
    /// Whether this adapter registered first for its input (it computes A·x every forward).
    private let leadsInput: Bool
    /// `input.generation` when this adapter last read A·x.
    private var seenGeneration = -1

    /// Far above VeRA's typical 256–1024; keeps a mistyped --rank from allocating gigabytes.
    public static let maxRank = 16384

    /// Registers with `shared` (the method's) and reserves d and b for `linear`.
    init(linear: Linear, rank: Int, initialD: Float, parameters: AdapterParameters, shared: VeRAShared) {
        self.rank = rank
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.initialD = initialD
        self.parameters = parameters
        self.shared = shared
        input = shared.register(linear)
        leadsInput = input.readers == 1
        let key = PEFTNames.module(linear.name)
        slotD = parameters.reserve(name: key + ".vera_lambda_d", shape: [rank], group: "vera_lambda")
        slotB = parameters.reserve(name: key + ".vera_lambda_b", shape: [outFeatures], group: "vera_lambda")
    }

    /// The projections come from the VeRA seed, not `rng`, so they are a pure function of
    /// (seed, r, maxIn, maxOut) and need no storage.
    func initialize(rng: inout SeededGenerator) {
        shared.generateIfNeeded()
        parameters.value(slotD).update(repeating: initialD, count: rank)
        parameters.value(slotB).update(repeating: 0, count: outFeatures)
    }

    /// Trainable parameters of VeRA with `config` on `model`: Σ (r + out) over the adapted Linears.
    public static func trainableCount(config: AdapterConfig, model: DecoderConfig) -> Int {
        let qDim = model.numHeads * model.headDim, kvDim = model.numKVHeads * model.headDim
        let out = ["q": qDim, "k": kvDim, "v": kvDim, "o": model.hiddenSize,
                   "gate": model.intermediateSize, "up": model.intermediateSize, "down": model.hiddenSize]
        let blocks = config.layers?.count ?? model.numLayers
        return blocks * Set(config.targets).reduce(0) { $0 + config.rank + (out[$1] ?? 0) }
    }

    /// M = diag(b)·B[:out, :]·diag(d) [out, r] into `shared.scaled`.
    private func buildScaled() -> UnsafeMutablePointer<Float> {
        let m = shared.scaled.ptr, bMat = shared.b.data, d = parameters.value(slotD), bVec = parameters.value(slotB)
        for i in 0..<outFeatures {
            let row = m + i * rank, src = bMat + i * rank, bi = bVec[i]
            for k in 0..<rank { row[k] = bi * src[k] * d[k] }
        }
        return m
    }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        if leadsInput || !input.canReuse(x: x, rows: rows, seen: seenGeneration) {
            shared.project(x, rows: rows, inFeatures: inFeatures, into: input)
            input.source = (x, rows)
            input.generation &+= 1
            input.pendingReaders = 0
            shared.finishGradient(of: input)
        }
        seenGeneration = input.generation
        let m = buildScaled()
        BLAS.gemm(.none, .transpose, m: rows, n: outFeatures, k: rank, a: input.projected.ptr, b: m, beta: 1, c: y)
    }

    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let u = input.projected.ptr, g = shared.outer.ptr, bMat = shared.b.data
        let d = parameters.value(slotD), bVec = parameters.value(slotB)
        // G = dyᵀ·u, then G ⊙= B[:out, :]; db += G·d, dd += Gᵀ·b.
        BLAS.gemm(.transpose, .none, m: outFeatures, n: rank, k: rows, a: dy, b: u, c: g)
        for i in 0..<outFeatures * rank { g[i] *= bMat[i] }
        BLAS.gemm(.none, .transpose, m: 1, n: outFeatures, k: rank, a: d, b: g, beta: 1, c: parameters.grad(slotB))
        BLAS.gemm(.none, .none, m: 1, n: rank, k: outFeatures, a: bVec, b: g, beta: 1, c: parameters.grad(slotD))
        // du (+)= dy·M; the input's last adapter adds du·A[:, :in] to dx.
        let (du, first) = shared.gradientBuffer(for: input, rows: rows)
        BLAS.gemm(.none, .none, m: rows, n: rank, k: outFeatures, a: dy, b: buildScaled(), beta: first ? 0 : 1, c: du)
        input.pendingReaders += 1
        if input.pendingReaders == input.readers {
            BLAS.gemm(.none, .none, m: rows, n: inFeatures, k: rank, a: du, b: shared.a.data, ldb: shared.maxIn, beta: 1, c: dx)
            input.pendingReaders = 0
            shared.finishGradient(of: input)
        }
    }

    public static let projectionAKey = "base_model.vera_A"
    public static let projectionBKey = "base_model.vera_B"
}

extension VeRA: MergeableAdapter {
    /// W += diag(b)·B[:out, :]·diag(d)·A[:, :in].
    public func addDelta(to weight: UnsafeMutablePointer<Float>) {
        BLAS.gemm(.none, .none, m: outFeatures, n: inFeatures, k: rank, a: buildScaled(),
                  b: shared.a.data, ldb: shared.maxIn, beta: 1, c: weight)
    }
}

extension VeRA {
    /// The shared projections of a VeRA adapter set (nil for other methods): tests check their
    /// identity, `PEFTAdapter` replaces them with an adapter file's own.
    static func projections(of set: AdapterSet) -> VeRAShared? {
        (set.method as? VeRAMethod)?.shared
    }
}
