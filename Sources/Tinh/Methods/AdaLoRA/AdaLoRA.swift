import Foundation

/// AdaLoRA (Zhang et al., 2023), as Hugging Face PEFT implements it (`SVDLinear`):
///     y = x·Wᵀ + s·((x·Qᵀ) ⊙ λ)·Pᵀ,   s = α / (init_r + 1e-5)
/// with Q = lora_A [r, in], λ = lora_E [r, 1] and P = lora_B [out, r] trainable. λ starts at 0 and
/// P, Q at N(0, 0.02²) (PEFT's init), so training starts from the base model.
///
/// The rank budget (`AdaLoRABudget`, one per `AdaLoRAMethod`) prunes triplets (P[:,k], λ[k], Q[k,:])
/// by importance after optimizer steps: a pruned λ[k] is set to 0 but stays in the flat buffer, so
/// the all-reduced gradient never changes shape. The orthogonality regulariser
///     R = w / (2M) · Σ_modules (‖Q·Qᵀ − I‖_F + ‖PᵀP − I‖_F)
/// (PEFT's: the Frobenius norms, not squared, averaged over the 2M matrices) is added to the mean
/// loss; its gradient is added to the all-reduced mean gradient on every rank before clipping.
public final class AdaLoRA: LinearAdapter {
    public let rank: Int
    public let scale: Float
    let inFeatures: Int
    let outFeatures: Int
    let parameters: AdapterParameters
    let slotA: Int
    let slotE: Int
    let slotB: Int
    let budget: AdaLoRABudget
    /// This module's index in the budget.
    let index: Int
    /// x·Qᵀ of the last training forward [rows, r]; scratch for (x·Qᵀ)⊙λ and its gradient.
    private let xA: GrowableBuffer
    private let scaledXA: GrowableBuffer
    private let dScaledXA: GrowableBuffer
    /// The regulariser's r × r scratch (Q·Qᵀ − I, PᵀP − I).
    private let gram: Tensor

    public static let initStd: Float = 0.02

    /// Reserves Q, λ, P for `linear` and registers them with the method's `budget`.
    init(linear: Linear, rank r: Int, alpha: Float, parameters: AdapterParameters, budget: AdaLoRABudget) throws {
        try LoRA.checkRank(r, linear)
        rank = r
        scale = alpha / (Float(r) + 1e-5)
        inFeatures = linear.inFeatures
        outFeatures = linear.outFeatures
        self.parameters = parameters
        xA = GrowableBuffer(.kept, in: linear.activationMemory)
        scaledXA = GrowableBuffer(.scratch, in: linear.activationMemory)
        dScaledXA = GrowableBuffer(.scratch, in: linear.activationMemory)
        gram = Tensor(shape: [r, r])
        let key = PEFTNames.module(linear.name)
        slotA = parameters.reserve(name: key + ".lora_A", shape: [r, inFeatures], group: "lora_A")
        slotE = parameters.reserve(name: key + ".lora_E", shape: [r, 1], group: "lora_E")
        slotB = parameters.reserve(name: key + ".lora_B", shape: [outFeatures, r], group: "lora_B")
        self.budget = budget
        index = budget.register(name: linear.name, slotA: slotA, slotE: slotE, slotB: slotB)
    }

    /// λ = 0; Q, P ~ N(0, 0.02²), Q drawn first.
    func initialize(rng: inout SeededGenerator) {
        rng.fillNormal(parameters.value(slotA), count: rank * inFeatures, std: Self.initStd)
        parameters.value(slotE).update(repeating: 0, count: rank)
        rng.fillNormal(parameters.value(slotB), count: outFeatures * rank, std: Self.initStd)
    }

    public func forward(linear: Linear, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, training: Bool) {
        let a = parameters.value(slotA), e = parameters.value(slotE), b = parameters.value(slotB), r = rank
        let u = xA.reserve(rows * r), v = scaledXA.reserve(rows * r)
        BLAS.gemm(.none, .transpose, m: rows, n: r, k: inFeatures, a: x, b: a, c: u)
        for row in 0..<rows {
            for k in 0..<r { v[row * r + k] = u[row * r + k] * e[k] }
        }
        BLAS.gemm(.none, .transpose, m: rows, n: outFeatures, k: r, alpha: scale, a: v, b: b, beta: 1, c: y)
    }

    public func activationFloats(rows: Int) -> (kept: Int, scratch: Int) { (rows * rank, 2 * rows * rank) }

    public func backward(linear: Linear, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int) {
        let a = parameters.value(slotA), e = parameters.value(slotE), b = parameters.value(slotB), r = rank
        let gA = parameters.grad(slotA), gE = parameters.grad(slotE), gB = parameters.grad(slotB)
        let u = xA.ptr, v = scaledXA.reserve(rows * r), dv = dScaledXA.reserve(rows * r)
        for i in 0..<(rows * r) { v[i] = u[i] * e[i % r] }
        // dP += s·dyᵀ·v; dv = s·dy·P; dλ[k] += Σ_rows dv·u; du = dv ⊙ λ; dQ += duᵀ·x; dx += du·Q.
        BLAS.gemm(.transpose, .none, m: outFeatures, n: r, k: rows, alpha: scale, a: dy, b: v, beta: 1, c: gB)
        BLAS.gemm(.none, .none, m: rows, n: r, k: outFeatures, alpha: scale, a: dy, b: b, c: dv)
        for row in 0..<rows {
            for k in 0..<r {
                let i = row * r + k
                gE[k] += dv[i] * u[i]
                dv[i] *= e[k]
            }
        }
        BLAS.gemm(.transpose, .none, m: r, n: inFeatures, k: rows, a: dv, b: x, beta: 1, c: gA)
        BLAS.gemm(.none, .none, m: rows, n: inFeatures, k: r, a: dv, b: a, beta: 1, c: dx)
    }

    /// Adds this module's share of ∇R to the gradients and returns its share of R:
    /// for Q, (w/2M)·2(Q·Qᵀ − I)·Q / ‖Q·Qᵀ − I‖_F; for P, (w/2M)·2·P(PᵀP − I) / ‖PᵀP − I‖_F.
    func addRegularizerGradient() -> Double {
        let w = budget.settings.orthRegWeight
        guard w > 0 else { return 0 }
        let factor = w / Float(2 * budget.moduleCount)
        let r = rank
        let a = parameters.value(slotA), b = parameters.value(slotB)
        var total = 0.0
        // Q·Qᵀ − I [r, r] from Q [r, in]; then gQ += c·G·Q.
        BLAS.gemm(.none, .transpose, m: r, n: r, k: inFeatures, a: a, b: a, c: gram.data)
        if let norm = Self.subtractIdentity(gram.data, r) {
            total += Double(factor) * norm
            BLAS.gemm(.none, .none, m: r, n: inFeatures, k: r, alpha: 2 * factor / Float(norm), a: gram.data, b: a,
                      beta: 1, c: parameters.grad(slotA))
        }
        // PᵀP − I [r, r] from P [out, r]; then gP += c·P·G.
        BLAS.gemm(.transpose, .none, m: r, n: r, k: outFeatures, a: b, b: b, c: gram.data)
        if let norm = Self.subtractIdentity(gram.data, r) {
            total += Double(factor) * norm
            BLAS.gemm(.none, .none, m: outFeatures, n: r, k: r, alpha: 2 * factor / Float(norm), a: b, b: gram.data,
                      beta: 1, c: parameters.grad(slotB))
        }
        return total
    }

    /// G −= I in place; returns ‖G‖_F, or nil when it is 0 (the norm then has no gradient).
    static func subtractIdentity(_ g: UnsafeMutablePointer<Float>, _ r: Int) -> Double? {
        var sum = 0.0
        for i in 0..<r { g[i * r + i] -= 1 }
        for i in 0..<(r * r) { sum += Double(g[i]) * Double(g[i]) }
        return sum > 0 ? sum.squareRoot() : nil
    }

    /// The regulariser's value alone (tests, logs): R's share of this module, gradients untouched.
    func regularizerValue() -> Double {
        let w = budget.settings.orthRegWeight
        guard w > 0 else { return 0 }
        let r = rank, a = parameters.value(slotA), b = parameters.value(slotB)
        BLAS.gemm(.none, .transpose, m: r, n: r, k: inFeatures, a: a, b: a, c: gram.data)
        let nq = Self.subtractIdentity(gram.data, r) ?? 0
        BLAS.gemm(.transpose, .none, m: r, n: r, k: outFeatures, a: b, b: b, c: gram.data)
        let np = Self.subtractIdentity(gram.data, r) ?? 0
        return Double(w / Float(2 * budget.moduleCount)) * (nq + np)
    }

    /// The triplets kept (mask 1), in order.
    public var keptTriplets: [Int] { budget.kept(index) }
}

extension AdaLoRA: MergeableAdapter {
    /// W += s·P·diag(λ)·Q.
    public func addDelta(to weight: UnsafeMutablePointer<Float>) {
        let scaledA = Tensor(shape: [rank, inFeatures])
        let a = parameters.value(slotA), e = parameters.value(slotE)
        for k in 0..<rank {
            for i in 0..<inFeatures { scaledA.data[k * inFeatures + i] = a[k * inFeatures + i] * e[k] }
        }
        BLAS.gemm(.none, .none, m: outFeatures, n: inFeatures, k: rank, alpha: scale,
                  a: parameters.value(slotB), b: scaledA.data, beta: 1, c: weight)
    }
}
