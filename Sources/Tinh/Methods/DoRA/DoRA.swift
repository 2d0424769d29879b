import Foundation

/// DoRA (Liu et al., 2024): W′ = m ⊙ (W + s·B·A) / ‖W + s·B·A‖, the norm taken per output row
/// (over `in`), m ∈ ℝ^out trainable and initialised to W's row norms, A and B as in LoRA.
///
/// The norm is detached, as in Hugging Face PEFT (`DoraLinearLayer`, following §4.3 of the paper):
/// backward treats ‖W + s·B·A‖ as a constant, so with g = m / ‖·‖ the layer is
///     y = g ⊙ z (+ b),   z = x·Wᵀ + s·(x·Aᵀ)·Bᵀ
/// and dm = Σ_rows dy ⊙ z / ‖·‖, while A, B and x get LoRA's gradients of dy ⊙ g. The bias (none
/// in Llama) is outside the scaling, as PEFT has it.
///
/// Cost: W + s·B·A is never formed. Per row, ‖W + s·B·A‖² = ‖W‖² + 2s·⟨W, B·A⟩ + s²·‖B·A‖², where
/// ⟨W_j, (B·A)_j⟩ = Σ_k B[j,k]·(W·Aᵀ)[j,k] and ‖(B·A)_j‖² = B_j·(A·Aᵀ)·B_jᵀ: one GEMM of W·Aᵀ
/// (out·in·r) plus r-sized work, redone only when A or B changed (compared against a copy), so
/// it runs once per optimizer step, not per forward or per generated token. ‖W‖² is cached.
/// The price over LoRA is z, kept for dm: rows·out floats per adapted Linear.
public final class DoRA: LinearAdapter {
    let lora: LoRA
    let slotM: Int
    /// W [out, in] in its storage (never written by DoRA; read through `withFloats`) and the Linear's bias, if any.
    private let weight: FrozenWeight
    private let bias: Tensor?
    /// ‖W_j‖², ‖W_j + s·(B·A)_j‖ for the A, B in `normA`/`normB`, and g = m / that norm.
    private let weightNormSquared: Tensor
    let norm: Tensor
    private let gain: Tensor
    private let normA: Tensor
    private let normB: Tensor
    private var normsCurrent = false
    /// Tests only: keep the norms of the current A, B while they are perturbed, so that a finite
    /// difference sees the detached norm the analytic gradient assumes.
    var freezeNorms = false
    /// Σ_rows dy ⊙ z of one backward, [out].
    private let magnitudeGradient: Tensor
    /// Scratch of the norm: W·Aᵀ [out, r], A·Aᵀ [r, r], B·(A·Aᵀ) [out, r].
    private let wAt: Tensor
    private let aAt: Tensor
    private let bAAt: Tensor
    /// z of the last training forward [rows, out], and dy ⊙ g for the backward: scratch that every
    /// DoRA of the model shares (it lives only within one Linear's backward), sized for the widest.
    private let unscaled: GrowableBuffer
    private let scratch: SharedScratch
    /// Whether this adapter reports the shared scratch in `activationFloats` (the first one made).
    private let reportsScratch: Bool

    /// Owned by `DoRAMethod`, one for all its modules.
    final class SharedScratch {
        let buffer: GrowableBuffer
        var widest = 0
        var users = 0
        init(_ memory: ActivationMemory) { buffer = GrowableBuffer(.scratch, in: memory) }
    }

    var outFeatures: Int { lora.outFeatures }
    var rank: Int { lora.rank }

    init(linear: Linear, rank: Int, scale: Float, parameters: AdapterParameters, scratch: SharedScratch) throws {
        lora = try LoRA(linear: linear, rank: rank, scale: scale, parameters: parameters)
        let (out, n, r) = (linear.outFeatures, linear.inFeatures, lora.rank)
        slotM = parameters.reserve(name: PEFTNames.module(linear.name) + ".lora_magnitude_vector", shape: [out], group: "lora_magnitude_vector")
        weight = linear.weight
        bias = linear.bias
        let normSquared = Tensor(shape: [out])
        weight.withFloats { w in
            for j in 0..<out {
                let row = w + j * n
                var sum = 0.0
                for i in 0..<n { sum += Double(row[i]) * Double(row[i]) }
                normSquared.data[j] = Float(sum)
            }
        }
        weightNormSquared = normSquared
        norm = Tensor(shape: [out])
        gain = Tensor(shape: [out])
        magnitudeGradient = Tensor(shape: [out])
        normA = Tensor(shape: [r, n])
        normB = Tensor(shape: [out, r])
        wAt = Tensor(shape: [out, r])
        aAt = Tensor(shape: [r, r])
        bAAt = Tensor(shape: [out, r])
        unscaled = GrowableBuffer(.kept, in: linear.activationMemory)
        self.scratch = scratch
        scratch.widest = max(scratch.widest, out)
        reportsScratch = scratch.users == 0
        scratch.users += 1
    }

    /// LoRA's A and B = 0, and m = ‖W‖ per row: W′ = W exactly at the start.
    func initialize(rng: inout SeededGenerator) {
        lora.initialize(rng: &rng)
        let m = lora.parameters.value(slotM)
        for j in 0..<outFeatures { m[j] = weightNormSquared.data[j].squareRoot() }
        normsCurrent = false
    }

    /// Recomputes ‖W + s·B·A‖ per row if A or B changed since the last time.
    private func refreshNorms() {
        let a = lora.parameters.value(lora.slotA), b = lora.parameters.value(lora.slotB)
        let (out, n, r, s) = (outFeatures, lora.inFeatures, rank, lora.scale)
        if normsCurrent, freezeNorms { return }
        if normsCurrent, memcmp(a, normA.data, r * n * 4) == 0, memcmp(b, normB.data, out * r * 4) == 0 { return }
        normA.data.update(from: a, count: r * n)
        normB.data.update(from: b, count: out * r)
        weight.withFloats { w in BLAS.gemm(.none, .transpose, m: out, n: r, k: n, a: w, b: a, c: wAt.data) }
        BLAS.gemm(.none, .transpose, m: r, n: r, k: n, a: a, b: a, c: aAt.data)
        BLAS.gemm(.none, .none, m: out, n: r, k: r, a: b, b: aAt.data, c: bAAt.data)
        for j in 0..<out {
            var cross = 0.0, lowRank = 0.0
            for k in 0..<r {
                let bjk = Double(b[j * r + k])
                cross += bjk * Double(wAt.data[j * r + k])
                lowRank += bjk * Double(bAAt.data[j * r + k])
            }
            let squared = Double(weightNormSquared.data[j]) + 2 * Double(s) * cross + Double(s) * Double(s) * lowRank
            // Rounding may leave a tiny negative for a row that cancels out; a zero row gets g = 0.
            norm.data[j] = Float(max(squared, 0).squareRoot())
        }
        normsCurrent = true
    }

    /// g = m / ‖W + s·B·A‖ per output row (0 where the norm is 0).
    private func refreshGain() {
        refreshNorms()
        let m = lora.parameters.value(slotM)
        for j in 0..<outFeatures { gain.data[j] = norm.data[j] > 0 ? m[j] / norm.data[j] : 0 }
    }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        refreshGain()
        lora.forward(linear: linear, x: x, y: y, rows: rows, training: training)  // y = z (+ b)
        let out = outFeatures, g = gain.data
        let z: UnsafeMutablePointer<Float>? = training ? unscaled.reserve(rows * out) : nil
        for row in 0..<rows {
            let yr = y + row * out
            if let bias {
                for j in 0..<out { yr[j] -= bias.data[j] }
            }
            z?.advanced(by: row * out).update(from: yr, count: out)
            for j in 0..<out { yr[j] *= g[j] }
            if let bias {
                for j in 0..<out { yr[j] += bias.data[j] }
            }
        }
    }

    /// dm += Σ_rows dy ⊙ z / ‖·‖ (the norm detached); returns dy ⊙ g for the base and LoRA paths.
    public func weightPathGradient(linear: Linear, dy: UnsafePointer<Float>, rows: Int) -> UnsafePointer<Float> {
        let out = outFeatures, g = gain.data, z = unscaled.ptr
        let dz = scratch.buffer.reserve(rows * out)
        let sum = magnitudeGradient.data
        sum.update(repeating: 0, count: out)
        for row in 0..<rows {
            let dyr = dy + row * out, zr = z + row * out, dzr = dz + row * out
            for j in 0..<out {
                sum[j] += dyr[j] * zr[j]
                dzr[j] = dyr[j] * g[j]
            }
        }
        let dm = lora.parameters.grad(slotM)
        for j in 0..<out where norm.data[j] > 0 { dm[j] += sum[j] / norm.data[j] }
        return UnsafePointer(dz)
    }

    /// `dy` is already dy ⊙ g (see `weightPathGradient`): from here on it is LoRA's backward.
    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        lora.backward(linear: linear, x: x, dy: dy, dx: dx, rows: rows)
    }

    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) {
        let l = lora.activationFloats(rows: rows)
        return (l.kept + rows * outFeatures, l.scratch + (reportsScratch ? rows * scratch.widest : 0))
    }
}

extension DoRA: MergeableAdapter {
    /// W′ = g ⊙ (W + s·B·A) row by row, given W in `weight`: the merged weight is formed explicitly.
    public func addDelta(to weight: UnsafeMutablePointer<Float>) {
        refreshGain()
        lora.addDelta(to: weight)
        let n = lora.inFeatures
        for j in 0..<outFeatures {
            let row = weight + j * n
            for i in 0..<n { row[i] *= gain.data[j] }
        }
    }
}
