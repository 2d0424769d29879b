/// Delta-LoRA (Zi et al., 2023): LoRA whose frozen weight also learns. After each optimizer step
/// t ≥ `deltaStart` (0-based), W [out, in] += λ·s·(B′A′ − BA), where A, B are the values before the
/// step and A′, B′ after. Over steps k..<T this telescopes to W_T = W_0 + λ·s·(B_T A_T − B_k A_k).
///
/// The forward, backward, init and merge are LoRA's (this type wraps a `LoRA`). Every rank holds
/// the same A, B before and after each step, so every rank makes the same W update without any
/// communication; the trainer checks that at checkpoints (`DeltaLoRAMethod.agreement`).
/// The moved W is checkpoint state (`extraState`), so a resume restores it bit for bit.
public final class DeltaLoRA: LinearAdapter {
    let lora: LoRA
    public let lambda: Float
    public let start: Int
    /// The Linear's private copy of W, updated in place.
    public let weight: Tensor
    /// A [r, in] and B [out, r] as they were before the step being applied (r·(in+out) floats).
    private let previousA: Tensor
    private let previousB: Tensor

    init(linear: Linear, rank: Int, scale: Float, parameters: AdapterParameters, lambda: Float, start: Int) throws {
        lora = try LoRA(linear: linear, rank: rank, scale: scale, parameters: parameters)
        self.lambda = lambda
        self.start = start
        previousA = Tensor(shape: [lora.rank, lora.inFeatures])
        previousB = Tensor(shape: [lora.outFeatures, lora.rank])
        // W is written below, and the base may be a read-only (or copy-on-write, shared by all ranks
        // on the node) mapping of the model file: give this Linear, and only this one, its own copy.
        weight = linear.makeWeightPrivate()
    }

    func initialize(rng: inout SeededGenerator) {
        lora.initialize(rng: &rng)
        rememberCurrentFactors()
    }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        lora.forward(linear: linear, x: x, y: y, rows: rows, training: training)
    }

    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        lora.backward(linear: linear, x: x, dy: dy, dx: dx, rows: rows)
    }

    /// LoRA's buffers (the activation estimate missed them before gradient checkpointing's test).
    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) { lora.activationFloats(rows: rows) }

    /// W += λ·s·(B′A′ − BA), as two rank-r products into W (no out×in temporary):
    /// B′A′ − BA = (B′ − B)·A + B′·(A′ − A).
    func afterOptimizerStep(step: Int) {
        defer { rememberCurrentFactors() }
        guard step >= start, lambda != 0 else { return }
        let (r, n, m) = (lora.rank, lora.inFeatures, lora.outFeatures)
        let a = lora.parameters.value(lora.slotA), b = lora.parameters.value(lora.slotB)
        let oldA = previousA.data, dB = previousB.data
        let alpha = lambda * lora.scale
        for i in 0..<(m * r) { dB[i] = b[i] - dB[i] }
        BLAS.gemm(.none, .none, m: m, n: n, k: r, alpha: alpha, a: dB, b: oldA, beta: 1, c: weight.data)
        let dA = previousA.data
        for i in 0..<(r * n) { dA[i] = a[i] - dA[i] }
        BLAS.gemm(.none, .none, m: m, n: n, k: r, alpha: alpha, a: b, b: dA, beta: 1, c: weight.data)
    }

    /// The moved W, under PEFT's name for a wrapped layer's own weight. A view, not a copy.
    func extraState() -> [String: Tensor] { ["base_layer.weight": weight] }

    /// Sets W from `tensors` (checked by the caller) and takes the current A, B as the values
    /// before the next step: call it after the adapter values themselves were restored.
    func restoreExtraState(_ tensors: [String: Tensor]) throws {
        guard let saved = tensors["base_layer.weight"] else {
            throw TinhError.invalidInput("Delta-LoRA state: no base_layer.weight (the checkpoint holds \(tensors.keys.sorted()))")
        }
        guard saved.shape == weight.shape else {
            throw TinhError.invalidInput("Delta-LoRA state: base_layer.weight has shape \(saved.shape), this layer needs \(weight.shape)")
        }
        if saved.data != weight.data { weight.data.update(from: saved.data, count: weight.count) }
        rememberCurrentFactors()
    }

    private func rememberCurrentFactors() {
        previousA.data.update(from: lora.parameters.value(lora.slotA), count: previousA.count)
        previousB.data.update(from: lora.parameters.value(lora.slotB), count: previousB.count)
    }
}

extension DeltaLoRA: MergeableAdapter {
    /// The adapter's own term, s·B·A; the moved W is already in the Linear's weight.
    public func addDelta(to weight: UnsafeMutablePointer<Float>) { lora.addDelta(to: weight) }
}
