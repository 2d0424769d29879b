/// LoRA-FA (Zhang et al., 2023, "LoRA-FA: Memory-efficient Low-rank Adaptation"): LoRA with A
/// frozen at its initial value, so y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ and only B [out, r] trains.
///
/// A [r, in] is drawn exactly as LoRA draws it (same seed, same values) and lives here, not in the
/// trainable buffer: it is neither all-reduced nor optimized, and every rank regenerates the same A
/// from the seed. Backward needs only x·Aᵀ [rows, r], kept by forward, never x [rows, in]:
/// dB = s·dyᵀ·(x·Aᵀ), dx += s·dy·B·A. So the model keeps no input for an adapted Linear (and
/// recomputes none) unless something else needs it.
///
/// With `loraFAProjection`, B's gradient is replaced before the optimizer step by
/// (1/s²)·dB·(A·Aᵀ + δI)⁻¹, δ = 1e-8 — PEFT's `LoraFAOptimizer` (s = α/r, so (r/α)² for plain
/// scaling). A is frozen, so the r × r inverse is computed once.
public final class LoRAFA: LinearAdapter {
    public let rank: Int
    public let scale: Float
    let inFeatures: Int
    let outFeatures: Int
    let parameters: AdapterParameters
    let slotB: Int
    /// The frozen A [r, in].
    public let a: Tensor
    /// (1/s²)·(A·Aᵀ + δI)⁻¹ [r, r] when projecting, and scratch for the projected gradient [out, r].
    private let projection: Tensor?
    private let projected: Tensor?
    /// x·Aᵀ of the last training forward (kept for backward), and scratch for its gradient: [rows, r].
    private let xA: GrowableBuffer
    private let dxA: GrowableBuffer

    public static let projectionRidge = 1e-8

    init(linear: Linear, rank r: Int, scale: Float, parameters: AdapterParameters, projects: Bool) throws {
        try LoRA.checkRank(r, linear)
        rank = r
        self.scale = scale
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.parameters = parameters
        a = Tensor(shape: [r, inFeatures])
        projection = projects ? Tensor(shape: [r, r]) : nil
        projected = projects ? Tensor(shape: [outFeatures, r]) : nil
        xA = GrowableBuffer(.kept, in: linear.activationMemory)
        dxA = GrowableBuffer(.scratch, in: linear.activationMemory)
        slotB = parameters.reserve(name: PEFTNames.module(linear.name) + ".lora_B.weight", shape: [outFeatures, r], group: "lora_B")
    }

    func initialize(rng: inout SeededGenerator) {
        // The same draws as LoRA's (A first, B = 0), so one seed gives LoRA and LoRA-FA the same start.
        LoRA.drawA(a.data, rank: rank, inFeatures: inFeatures, rng: &rng)
        parameters.value(slotB).update(repeating: 0, count: outFeatures * rank)
        if let projection { fillProjection(projection) }
    }

    /// Replaces the frozen A [r, in] (e.g. with the lora_A of an adapter PEFT saved) and recomputes
    /// the projection from it.
    func setFrozenA(_ values: UnsafePointer<Float>) {
        a.data.update(from: values, count: a.count)
        if let projection { fillProjection(projection) }
    }

    public var needsInputForBackward: Bool { false }

    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) { (rows * rank, rows * rank) }

    func frozenTensors() -> [String: Tensor] { ["lora_A.weight": a] }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        let xa = xA.reserve(rows * rank)
        BLAS.gemm(.none, .transpose, m: rows, n: rank, k: inFeatures, a: x, b: a.data, c: xa)
        BLAS.gemm(.none, .transpose, m: rows, n: outFeatures, k: rank, alpha: scale, a: xa, b: parameters.value(slotB), beta: 1, c: y)
    }

    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let b = parameters.value(slotB), gB = parameters.grad(slotB)
        let xa = xA.ptr, dxa = dxA.reserve(rows * rank)
        // dB += s·dyᵀ·(xAᵀ); d(xAᵀ) = s·dy·B; dx += d(xAᵀ)·A. x is not read.
        BLAS.gemm(.transpose, .none, m: outFeatures, n: rank, k: rows, alpha: scale, a: dy, b: xa, beta: 1, c: gB)
        BLAS.gemm(.none, .none, m: rows, n: rank, k: outFeatures, alpha: scale, a: dy, b: b, c: dxa)
        BLAS.gemm(.none, .none, m: rows, n: inFeatures, k: rank, a: dxa, b: a.data, beta: 1, c: dx)
    }

    /// PEFT's projection: dB ← dB·P with P = (1/s²)·(A·Aᵀ + δI)⁻¹.
    func projectGradient() {
        guard let projection, let projected else { return }
        let gB = parameters.grad(slotB)
        BLAS.gemm(.none, .none, m: outFeatures, n: rank, k: rank, a: gB, b: projection.data, c: projected.data)
        gB.update(from: projected.data, count: projected.count)
    }

    /// P = (1/s²)·(A·Aᵀ + δI)⁻¹, inverted in Double (A·Aᵀ + δI is symmetric positive definite).
    private func fillProjection(_ p: Tensor) {
        let r = rank, n = inFeatures
        var m = [Double](repeating: 0, count: r * r)
        for i in 0..<r {
            for j in i..<r {
                var sum = 0.0
                for t in 0..<n { sum += Double(a.data[i * n + t]) * Double(a.data[j * n + t]) }
                m[i * r + j] = sum
                m[j * r + i] = sum
            }
            m[i * r + i] += Self.projectionRidge
        }
        let inverse = SymmetricInverse.invert(m, size: r)
        let factor = 1 / (Double(scale) * Double(scale))
        for i in 0..<(r * r) { p.data[i] = Float(factor * inverse[i]) }
    }
}

extension LoRAFA: MergeableAdapter {
    /// W += s·B·A.
    public func addDelta(to weight: UnsafeMutablePointer<Float>) {
        BLAS.gemm(.none, .none, m: outFeatures, n: inFeatures, k: rank, alpha: scale,
                  a: parameters.value(slotB), b: a.data, beta: 1, c: weight)
    }
}
