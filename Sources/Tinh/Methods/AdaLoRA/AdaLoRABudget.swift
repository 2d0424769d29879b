import Foundation

/// AdaLoRA's rank allocator for one adapter set (PEFT's `RankAllocator`), run on every rank after
/// each optimizer step from the all-reduced, clipped gradients and the updated values, so every
/// rank computes the same scores and prunes the same triplets (the trainer compares a fingerprint
/// of the masks across ranks at each masking step).
///
/// Per parameter entry: I = |θ·∇θ|, Ī ← β1·Ī + (1−β1)·I, Ū ← β2·Ū + (1−β2)·|I − Ī|, score Ī·Ū.
/// Per triplet k of a module: score(λ[k]) + mean_i score(Q[k,i]) + mean_j score(P[j,k]).
/// Budget b(t) (0-based step t, T total): init_r·M for t ≤ tinit; then
///     target + (init − target)·(1 − (t − tinit)/(T − tfinal − tinit))³  (truncated to an integer),
/// masking every deltaT steps; at t = T − tfinal the budget is target_r·M, the mask is fixed and the
/// EMAs reset; after that the fixed mask is re-applied every step. Masking zeroes the λ[k] whose
/// triplet score is ≤ the (init − b)-th smallest.
public final class AdaLoRABudget {
    public let settings: AdaLoRASettings
    public let initR: Int
    unowned let parameters: AdapterParameters
    struct Module { var name: String; var slotA: Int; var slotE: Int; var slotB: Int }
    private(set) var modules: [Module] = []
    /// Ī and Ū over the whole flat buffer (every slot of the set is AdaLoRA's); made at first use.
    private var sensitivity: Tensor?
    private var uncertainty: Tensor?
    /// 1 = kept, 0 = pruned, per module [r].
    private var masks: [Tensor] = []
    /// The last step that masked.
    public private(set) var lastMaskingStep: Int?

    init(settings: AdaLoRASettings, initR: Int, parameters: AdapterParameters) {
        self.settings = settings
        self.initR = initR
        self.parameters = parameters
    }

    func register(name: String, slotA: Int, slotE: Int, slotB: Int) -> Int {
        modules.append(Module(name: name, slotA: slotA, slotE: slotE, slotB: slotB))
        masks.append(Tensor(shape: [initR], values: Array(repeating: 1, count: initR)))
        return modules.count - 1
    }

    public var moduleCount: Int { modules.count }
    public var initialBudget: Int { initR * modules.count }
    public var targetBudget: Int { settings.targetR * modules.count }
    /// Triplets currently kept over all modules.
    public var totalRank: Int { masks.reduce(0) { $0 + Int($1.buffer.reduce(0, +)) } }
    func kept(_ module: Int) -> [Int] { (0..<initR).filter { masks[module].data[$0] != 0 } }

    /// Budget and whether to mask at 0-based step t (PEFT's `budget_schedule`).
    public func schedule(step t: Int) -> (budget: Int, mask: Bool) {
        guard let total = settings.totalStep else { return (initialBudget, false) }
        let (tinit, tfinal) = (settings.tinit, settings.tfinal)
        if t <= tinit { return (initialBudget, false) }
        if t > total - tfinal { return (targetBudget, true) }
        let progress = 1 - Double(t - tinit) / Double(total - tfinal - tinit)
        let budget = Int(Double(initialBudget - targetBudget) * progress * progress * progress + Double(targetBudget))
        return (budget, t % settings.deltaT == 0)
    }

    /// Runs once per step, after the optimizer (`AdaLoRAMethod.afterOptimizerStep`).
    func afterOptimizerStep(step t: Int) {
        guard let total = settings.totalStep else { return }
        let final = total - settings.tfinal
        if t < final {
            updateImportance()
            let (budget, mask) = schedule(step: t)
            if mask { maskToBudget(budget); lastMaskingStep = t }
        } else if t == final {
            maskToBudget(schedule(step: t).budget)
            lastMaskingStep = t
            sensitivity?.zero()
            uncertainty?.zero()
        } else {
            applyMasks()
        }
    }

    private func updateImportance() {
        let n = parameters.count
        if sensitivity == nil { sensitivity = Tensor(shape: [n]); uncertainty = Tensor(shape: [n]) }
        let p = parameters.values.data, g = parameters.grads.data
        let s = sensitivity!.data, u = uncertainty!.data
        let (b1, b2) = (settings.beta1, settings.beta2)
        for i in 0..<n {
            let ipt = abs(p[i] * g[i])
            s[i] = b1 * s[i] + (1 - b1) * ipt
            u[i] = b2 * u[i] + (1 - b2) * abs(ipt - s[i])
        }
    }

    /// Score of every triplet, module by module.
    func tripletScores() -> [[Float]] {
        guard let sens = sensitivity?.data, let unc = uncertainty?.data else {
            return modules.map { _ in Array(repeating: 0, count: initR) }
        }
        func score(_ i: Int) -> Float { sens[i] * unc[i] }
        let r = initR
        return modules.map { m in
            let a = parameters.slots[m.slotA], e = parameters.slots[m.slotE], b = parameters.slots[m.slotB]
            let n = a.shape[1], out = b.shape[0]
            return (0..<r).map { k in
                var rowA = 0.0, columnB = 0.0
                for i in 0..<n { rowA += Double(score(a.offset + k * n + i)) }
                for j in 0..<out { columnB += Double(score(b.offset + j * r + k)) }
                return score(e.offset + k) + (Float(rowA / Double(n)) + Float(columnB / Double(out)))
            }
        }
    }

    /// Keeps the triplets scoring above the (init − budget)-th smallest score; zeroes the others' λ.
    /// (PEFT's kthvalue needs k ≥ 1; with k ≤ 0 nothing is pruned.)
    func maskToBudget(_ budget: Int) {
        let scores = tripletScores()
        let k = initialBudget - budget
        let threshold = k > 0 ? scores.flatMap { $0 }.sorted()[min(k, initialBudget) - 1] : -Float.infinity
        for (m, moduleScores) in scores.enumerated() {
            for (j, s) in moduleScores.enumerated() { masks[m].data[j] = s <= threshold ? 0 : 1 }
        }
        applyMasks()
    }

    private func applyMasks() {
        for (m, module) in modules.enumerated() {
            let e = parameters.value(module.slotE)
            for k in 0..<initR where masks[m].data[k] == 0 { e[k] = 0 }
        }
    }

    /// Sets the masks (a loaded PEFT adapter's rank_pattern); λ of pruned triplets is zeroed.
    func setMask(_ module: Int, kept: [Bool]) {
        for k in 0..<initR { masks[module].data[k] = kept[k] ? 1 : 0 }
        applyMasks()
    }

    func mask(_ module: Int) -> Tensor { masks[module] }

    /// FNV-1a of every mask, in module order: ranks compare it after each masking step.
    public var maskFingerprint: String {
        var f = Fingerprint()
        for mask in masks { f.combine(sampling: mask.data, count: mask.count, stride: 1) }
        return f.hex
    }

    static let maskKey = "adalora_mask"
    static let sensitivityKey = "adalora_sensitivity_ema"
    static let uncertaintyKey = "adalora_uncertainty_ema"

    /// A module's checkpoint state: its mask and views of its EMAs (its slots are contiguous).
    func state(of module: Int) -> [String: Tensor] {
        let n = parameters.count
        if sensitivity == nil { sensitivity = Tensor(shape: [n]); uncertainty = Tensor(shape: [n]) }
        let m = modules[module]
        let start = parameters.slots[m.slotA].offset, end = parameters.slots[m.slotB].range.upperBound
        return [
            Self.maskKey: masks[module],
            Self.sensitivityKey: Tensor(shape: [end - start], borrowing: sensitivity!.data + start, owner: sensitivity!),
            Self.uncertaintyKey: Tensor(shape: [end - start], borrowing: uncertainty!.data + start, owner: uncertainty!),
        ]
    }

    func restore(_ module: Int, from tensors: [String: Tensor]) throws {
        let mine = state(of: module)
        for (key, target) in mine {
            guard let saved = tensors[key] else {
                throw TinhError.invalidInput("AdaLoRA state of \(modules[module].name): no \(key) (the checkpoint holds \(tensors.keys.sorted()))")
            }
            guard saved.shape == target.shape else {
                throw TinhError.invalidInput("AdaLoRA state: \(key) of \(modules[module].name) has shape \(saved.shape), needs \(target.shape)")
            }
            if saved.data != target.data { target.data.update(from: saved.data, count: target.count) }
        }
    }
}
