import Foundation
import Testing
@testable import Tinh

/// Each method against PEFT's own numbers (Fixtures/peft-methods/<method>/, from
/// make_peft_method_references.py): from the initial adapter PEFT saved, the same AdamW steps on the
/// same batch of the tiny llama fixture give PEFT's loss at every step, and after step 1's backward
/// the gradient norm of every adapter tensor. LoRA, rsLoRA, DoRA, LoRA+ and VeRA load PEFT's file
/// as it is; LoRA-FA, PiSSA, AdaLoRA and Delta-LoRA have their own tests below, since their flow
/// differs (PEFT's LoRA-FA optimizer, Tinh's own SVD, the budget and regulariser, the moving W).
@Suite struct PEFTReferenceTests {
    struct Reference: Decodable {
        struct Settings: Decodable {
            var r: Int?
            var lora_alpha: Float?
            var init_r: Int?
            var target_r: Int?
            var total_step: Int?
        }
        var method: String
        var peft_config: Settings
        var loraplus_ratio: Float?
        var lr: Float
        var betas: [Float]
        var eps: Float
        var weight_decay: Float
        var batch: Int
        var seq: Int
        var tokens: [Int32]
        var labels: [Int32]
        var losses: [Double]
        var final_loss: Double
        var grad_norms_after_step_1: [String: Double]
        /// LoRA-FA: B's gradient after PEFT's projection (from its optimizer's state).
        var projected_grad_norms_after_step_1: [String: Double]?
        /// AdaLoRA: PEFT's loss with orth_reg_weight·R, and the budget and masks update_and_allocate
        /// set, by the 0-based step after which it masked (masks: module key → kept, per triplet).
        var regularized_losses: [Double]?
        var final_regularized_loss: Double?
        var budgets: [String: Int]?
        var masks: [String: [String: [Bool]]]?
        /// Delta-LoRA: λ, the first 0-based step after which W moves, and ‖W − W₀‖_F per module at the end.
        var delta_lambda: Float?
        var delta_start: Int?
        var delta_w_norms: [String: Double]?
    }

    static let methods = ["lora", "rslora", "dora", "loraplus", "vera"]

    /// The bounds: losses to 1e-5 relative, gradient norms to 1e-4.
    static let lossTolerance = 1e-5, gradientTolerance = 1e-4

    /// What the arithmetic allows a loss to move between two float32 forwards that differ in
    /// summation order (relative): each logit within `RoundingBound.forwardEstimate` × the largest
    /// |logit| (a random-sign estimate), a row's cross-entropy by at most twice that, and the mean
    /// over `rows` counted rows, whose errors have random signs too, by 1/√rows of it. The test
    /// checks that this stays below `lossTolerance`, so the bound it asserts is one the arithmetic
    /// meets on any CPU (here 2.3e-6 to 4.1e-6: max |logit| ≈ 3, 20 counted rows, step losses of 4.2 to 5.9).
    static func derivedLossBound(_ model: DecoderModel, _ ref: Reference, loss: Double) throws -> Double {
        let logits = try model.logits(tokens: ref.tokens, batch: ref.batch, seq: ref.seq).array
        let largest = Double(logits.map(abs).max() ?? 0)
        let rows = ref.labels.filter { $0 >= 0 }.count
        return 2 * RoundingBound.forwardEstimate(model.config) * largest / Double(max(rows, 1)).squareRoot() / loss
    }

    /// The reference, a fresh tiny llama and an unpacked copy of PEFT's initial adapter (the caller removes it).
    static func load(_ method: String) throws -> (ref: Reference, model: DecoderModel, initial: URL) {
        let dir = ReferenceFiles.fixtures.appendingPathComponent("peft-methods/\(method)")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
        let (config, weights) = try ModelFileLoader.load(path: FamilyFixture.directory("llama").path)
        let model = try DecoderModel(config: config, weights: weights)
        return (ref, model, try FamilyFixture.unpackedCopy(of: dir.appendingPathComponent("initial")))
    }

    /// Copies every slot of `set` from the slot of the same name in `source`.
    static func copyValues(from source: AdapterSet, into set: AdapterSet) throws {
        for slot in set.parameters.slots {
            let from = try #require(source.parameters.slots.first { $0.name == slot.name }, "\(slot.name) in the loaded adapter")
            try #require(from.shape == slot.shape)
            (set.parameters.values.data + slot.offset).update(from: source.parameters.values.data + from.offset, count: slot.count)
        }
    }

    static func norm(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
        (0..<count).reduce(0.0) { $0 + Double(p[$1]) * Double(p[$1]) }.squareRoot()
    }

    /// Every slot's gradient norm against `want` (the same tensors, by PEFT's key), within
    /// `gradientTolerance` relative.
    static func checkGradientNorms(_ p: AdapterParameters, _ want: [String: Double], _ label: String) throws {
        #expect(Set(p.slots.map(\.name)) == Set(want.keys), "\(label): the adapter tensors")
        for (i, slot) in p.slots.enumerated() {
            let norm = Self.norm(p.grad(i), slot.count)
            let w = try #require(want[slot.name])
            #expect(abs(norm - w) <= gradientTolerance * w, "\(label) \(slot.name): ‖g‖ \(norm) vs PEFT's \(w)")
        }
    }

    /// What each method adds to a step: Adam's ε per step (LoRA-FA), an extra allowance on the loss
    /// bound (PiSSA's init) and what it reads from each step's gradients, checks after step 1's
    /// `beforeOptimizerStep`, and after each step's hooks.
    struct Hooks {
        var epsilon: ((Int) -> Float)? = nil
        var extraLossBound: (_ step: Int, _ loss: Double) -> Double = { _, _ in 0 }
        var afterBackward: () -> Void = {}
        var afterProjection: () throws -> Void = {}
        var afterStep: (_ step: Int) throws -> Void = { _ in }
    }

    /// The trainer's order of operations (`Trainer.trainStep`) on PEFT's batch, checked against PEFT
    /// at every step: forward; backward of the mean loss; the regulariser's gradient added
    /// (AdaLoRA); the step-1 gradient norms; `beforeOptimizerStep` (LoRA-FA's projection); AdamW;
    /// `afterOptimizerStep(step)` (AdaLoRA's budget, Delta-LoRA's W).
    static func train(_ ref: Reference, model: DecoderModel, set: AdapterSet, groups: [ParameterGroup]? = nil,
                      hooks: Hooks = Hooks()) throws {
        let method = ref.method
        let p = set.parameters
        let groups = groups ?? set.optimizerGroups(weightDecay: ref.weight_decay)
        let adam = AdamW(parameterCount: p.count, beta1: ref.betas[0], beta2: ref.betas[1], epsilon: ref.eps)
        let regularized = set.method.hasRegularizer
        // R's relative rounding on each side: Gram matrices of ≤ n-term dot products (random-sign √n·u), then norms.
        let n = max(model.config.hiddenSize, model.config.intermediateSize)
        let regularizerRounding = 2 * 2 * Double(n).squareRoot() * RoundingBound.u
        func check(_ value: Double, _ want: Double, bound: Double, _ what: String) {
            #expect(bound <= lossTolerance, "\(method) \(what): the arithmetic allows \(bound), above the 1e-5 asked for")
            #expect(abs(value - want) <= lossTolerance * abs(want), "\(method) \(what): loss \(value) vs PEFT's \(want)")
        }
        func loss() throws -> LossResult { try model.forward(tokens: ref.tokens, targets: ref.labels, batch: ref.batch, seq: ref.seq) }
        func regularizer() -> Double { set.modules.reduce(0) { $0 + (($1.adapter as? AdaLoRA)?.regularizerValue() ?? 0) } }
        for step in 0..<ref.losses.count {
            p.grads.zero()
            let bound = try derivedLossBound(model, ref, loss: ref.losses[step]) + hooks.extraLossBound(step, ref.losses[step])
            let l = try loss()
            check(l.mean, ref.losses[step], bound: bound, "step \(step + 1)")
            model.backward(lossScale: 1 / Float(l.count))
            if regularized {
                let r = set.method.addRegularizerGradient()
                let want = try #require(ref.regularized_losses?[step])
                check(l.mean + r, want, bound: (bound * ref.losses[step] + regularizerRounding * r) / want, "step \(step + 1) with the regulariser")
            }
            if step == 0 { try checkGradientNorms(p, ref.grad_norms_after_step_1, method) }
            hooks.afterBackward()
            set.method.beforeOptimizerStep()
            if step == 0 { try hooks.afterProjection() }
            if let epsilon = hooks.epsilon { adam.epsilon = epsilon(step) }
            adam.step(params: p.values.data, grads: p.grads.data, groups: groups, lr: ref.lr)
            set.method.afterOptimizerStep(step: step)
            try hooks.afterStep(step)
        }
        let final = try loss().mean
        let bound = try derivedLossBound(model, ref, loss: ref.final_loss) + hooks.extraLossBound(ref.losses.count, ref.final_loss)
        check(final, ref.final_loss, bound: bound, "final")
        if regularized {
            let want = try #require(ref.final_regularized_loss)
            let r = regularizer()
            check(final + r, want, bound: (bound * ref.final_loss + regularizerRounding * r) / want, "final with the regulariser")
        }
    }

    @Test(arguments: methods)
    func threeStepsMatchPEFT(method: String) throws {
        let (ref, model, initial) = try Self.load(method)
        defer { try? FileManager.default.removeItem(at: initial) }
        let set = try PEFTAdapter.load(dir: initial.path, into: model)
        let groups = ref.loraplus_ratio.map { LoRAPlus.groups(set, ratio: $0, weightDecay: ref.weight_decay) }
        try Self.train(ref, model: model, set: set, groups: groups)
    }

    /// LoRA-FA through PEFT's `create_lorafa_optimizer`. PEFT's file is a plain LoRA adapter: its A
    /// becomes LoRA-FA's frozen A (`setFrozenA`, which recomputes the projection), its B the
    /// trained one. PEFT's `LoraFAOptimizer` is transformers' old AdamW ("adamw-hf"):
    ///     p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε)
    /// (v not bias-corrected under the root), which is exactly Tinh's AdamW
    ///     p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε′)   with ε′ = ε/√(1−β2ᵗ),
    /// so the test runs Tinh's AdamW with that ε′ at each step (with ε = 1e-6, its default, ε′ is
    /// 3.2e-5 at step 1 against B's gradients of 1e-3 to 1e-2: the plain ε would move the losses by
    /// more than the tolerance). Its weight decay (applied after the update) does not enter: 0.
    @Test func loraFAMatchesPEFTsOptimizer() throws {
        let (ref, model, initial) = try Self.load("lorafa")
        defer { try? FileManager.default.removeItem(at: initial) }
        let loaded = try PEFTAdapter.load(dir: initial.path, into: model)
        loaded.detach()
        var config = loaded.config
        config.method = .loraFA
        config.options = LoRAFAOptions(projection: true)
        let set = try AdapterSet(model: model, config: config)
        try Self.copyValues(from: loaded, into: set)
        var conditionBound = 0.0
        for (name, adapter) in set.modules {
            let fa = try #require(adapter as? LoRAFA)
            let key = PEFTNames.module(name) + ".lora_A.weight"
            let slot = try #require(loaded.parameters.slots.first { $0.name == key }, "\(key)")
            try #require(slot.shape == fa.a.shape)
            fa.setFrozenA(loaded.parameters.values.data + slot.offset)
            // PEFT inverts A·Aᵀ + δI in float32 (pinv), Tinh in Double: the projected gradient's relative
            // error is about κ·(√in + r)·u for each side, κ ≤ ‖M‖_F·‖M⁻¹‖_F.
            let (r, n) = (fa.rank, fa.inFeatures)
            var m = [Double](repeating: 0, count: r * r)
            for i in 0..<r { for j in 0..<r { m[i * r + j] = (0..<n).reduce(0.0) { $0 + Double(fa.a.data[i * n + $1]) * Double(fa.a.data[j * n + $1]) } } }
            let inverse = SymmetricInverse.invert(m, size: r)
            let kappa = m.reduce(0) { $0 + $1 * $1 }.squareRoot() * inverse.reduce(0) { $0 + $1 * $1 }.squareRoot()
            conditionBound = max(conditionBound, 2 * kappa * (Double(n).squareRoot() + Double(r)) * RoundingBound.u)
        }
        #expect(conditionBound <= Self.gradientTolerance, "the projection's rounding allows \(conditionBound)")
        let beta2 = ref.betas[1]
        var hooks = Hooks()
        hooks.epsilon = { step in ref.eps / (1 - pow(beta2, Float(step + 1))).squareRoot() }
        hooks.afterProjection = {
            let projected = try #require(ref.projected_grad_norms_after_step_1)
            try Self.checkGradientNorms(set.parameters, projected, "lorafa projected")
        }
        try Self.train(ref, model: model, set: set, hooks: hooks)
    }

    /// PiSSA (PEFT's init_lora_weights="pissa", exact SVD): Tinh computes its OWN split of the
    /// fixture's W (OpenBLAS's sgesdd; PEFT's is torch's, MKL's) and runs PEFT's 3 steps.
    ///
    /// The two SVDs may pair the singular vectors with opposite signs: (u_i, v_i) → (−u_i, −v_i)
    /// flips row i of A₀ = diag(√(S/s))·Vᵀ and column i of B₀ = U·diag(√(S/s)) (the scale √(S_i/s)
    /// is positive, the same for both), leaving B₀A₀, W_res and the forward unchanged; the
    /// gradient's row i of A and column i of B flip with them (dA = s·Bᵀ·G, dB = s·G·Aᵀ), so their
    /// norms do not change; Adam's update is odd in the gradient (m odd, v even), so A and B stay
    /// flipped at every step and B·A, hence every loss, is the same.
    ///
    /// Beyond signs the SVDs differ by rounding. LAPACK's error bounds (Users' Guide §4.9): the
    /// computed SVD is exact for W + E, ‖E‖₂ ≤ p(m, n)·u·‖W‖₂; with p = √max(m, n) (the random-sign
    /// growth over the bidiagonalization's Householder steps, as elsewhere in these bounds) and two
    /// sides, e = 2·√max(m, n)·u·s₁. Singular values then move by ≤ e and the i-th singular vectors
    /// turn by θ_i ≤ e / gap_i (gap_i the distance from s_i to the nearest other singular value;
    /// for i = r that includes s_{r+1}). So each row of A₀ and column of B₀ must match PEFT's up to
    /// sign within θ_i + e/s_i + 4u, and s·B₀A₀ (W's top-r part) within
    /// √(2r)·(e + 2·s₁·e/(s_r − s_{r+1})) (the projector onto the top-r subspace turns by
    /// e/(s_r − s_{r+1}), on both sides of W).
    ///
    /// What a turn does to training: turning rows i, j of A (columns of B) within the top-r
    /// subspace is a rotation, which leaves every gradient norm as it is (only the top-r subspace
    /// itself turning, by e/(s_r − s_{r+1}), and the scales' e/s_r move them); but Adam's update is
    /// elementwise, so the two updates differ by up to θ_i of each element's step (≤ lr), and the
    /// loss by the gradient times that: a random-sign estimate lr·Σ_i θ_i·(‖dA[i,:]‖₂ + ‖dB[:,i]‖₂)
    /// per step, summed over the steps so far (from Tinh's own gradients) and added to the
    /// forward's bound, which must still lie below 1e-5.
    /// An adapter saved right after PEFT's PiSSA init holds A₀, B₀ for the residual: loaded (which
    /// redoes the split, as PEFT's load does) it gives the base model's logits, within the
    /// rounding of two float32 forwards; as plain LoRA on the original W it would add s·B₀A₀ twice.
    @Test func unconvertedPiSSAAdapterLoadsOntoItsResidual() throws {
        let (_, model, initial) = try Self.load("pissa")
        defer { try? FileManager.default.removeItem(at: initial) }
        let tokens: [Int32] = (0..<12).map { Int32($0 * 7 % model.config.vocabSize) }
        let base = try model.logits(tokens: tokens, batch: 1, seq: tokens.count).array
        let set = try PEFTAdapter.load(dir: initial.path, into: model)
        #expect(set.config.method == .lora && set.config.options(LoRAOptions.self).pissa)
        let agree = RoundingBound.logitsAgree(try model.logits(tokens: tokens, batch: 1, seq: tokens.count).array, base, model.config)
        #expect(agree.ok, "PiSSA adapter on its residual vs the base: \(agree.relative) of the largest logit")
    }

    @Test func pissaMatchesPEFT() throws {
        let (ref, model, initial) = try Self.load("pissa")
        defer { try? FileManager.default.removeItem(at: initial) }
        let configPath = initial.appendingPathComponent(PEFTExport.configFile).path
        // init_lora_weights "pissa": the import itself asks for the split, as PEFT's load does.
        let config = try PEFTAdapter.adapterConfig(PEFTAdapterConfig.read(path: configPath), model: model.config, path: configPath)
        #expect(config.options(LoRAOptions.self).pissa)
        let originals = Dictionary(uniqueKeysWithValues: model.blocks.flatMap(\.linears).map { ($0.name, $0.weight.dequantized()) })
        let set = try AdapterSet(model: model, config: config)
        let peft = try SafeTensorsFile(path: initial.appendingPathComponent(PEFTExport.weightsFile).path)
        let u = RoundingBound.u
        var turns: [(lora: LoRA, theta: [Double])] = []
        var gradientBound = 0.0
        for (name, adapter) in set.modules {
            let lora = try #require(adapter as? LoRA)
            let (a0, b0) = try #require(lora.pissaInitial)
            let w = try #require(originals[name])
            let (out, n, r) = (w.shape[0], w.shape[1], lora.rank)
            let s = try SVD.thin(w.data, rows: out, cols: n).s.map(Double.init)
            let e = 2 * Double(max(out, n)).squareRoot() * u * s[0]
            let key = PEFTNames.module(name)
            let pa = try peft.tensor(key + ".lora_A.weight"), pb = try peft.tensor(key + ".lora_B.weight")
            try #require(pa.shape == a0.shape && pb.shape == b0.shape)
            var theta: [Double] = []
            for i in 0..<r {
                let gap = min(i > 0 ? s[i - 1] - s[i] : .infinity, s[i] - s[i + 1])
                theta.append(e / gap)
                let bound = e / gap + e / s[i] + 4 * u
                let dot = (0..<n).reduce(0.0) { $0 + Double(a0.data[i * n + $1]) * Double(pa.data[i * n + $1]) }
                let sign: Double = dot < 0 ? -1 : 1
                func distance(_ count: Int, _ mine: (Int) -> Float, _ theirs: (Int) -> Float) -> Double {
                    var d = 0.0, t = 0.0
                    for j in 0..<count { let x = Double(mine(j)) - sign * Double(theirs(j)); d += x * x; t += Double(theirs(j)) * Double(theirs(j)) }
                    return (d / t).squareRoot()
                }
                let dA = distance(n, { a0.data[i * n + $0] }, { pa.data[i * n + $0] })
                let dB = distance(out, { b0.data[$0 * r + i] }, { pb.data[$0 * r + i] })
                #expect(dA <= bound && dB <= bound, "\(name) triplet \(i): A₀ row off by \(dA), B₀ column by \(dB) (relative, up to sign), bound \(bound)")
            }
            turns.append((lora, theta))
            gradientBound = max(gradientBound, e / (s[r - 1] - s[r]) + e / s[r - 1])
            // s·B₀A₀ against PEFT's, in Double.
            var diff = 0.0, total = 0.0
            for o in 0..<out {
                for j in 0..<n {
                    var mine = 0.0, theirs = 0.0
                    for k in 0..<r {
                        mine += Double(b0.data[o * r + k]) * Double(a0.data[k * n + j])
                        theirs += Double(pb.data[o * r + k]) * Double(pa.data[k * n + j])
                    }
                    diff += (mine - theirs) * (mine - theirs)
                    total += theirs * theirs
                }
            }
            let scale = Double(config.scale)
            let product = (diff / total).squareRoot()
            let bound = Double(2 * r).squareRoot() * (e + 2 * s[0] * e / (s[r - 1] - s[r])) / (scale * total.squareRoot())
            #expect(product <= bound, "\(name): s·B₀A₀ differs from PEFT's by \(product) relative, bound \(bound)")
        }
        #expect(gradientBound <= Self.gradientTolerance, "the SVDs' rounding allows the gradient norms to move by \(gradientBound)")
        var drift = 0.0
        var hooks = Hooks()
        hooks.afterBackward = {
            let p = set.parameters
            for (lora, theta) in turns {
                let (r, n, out) = (lora.rank, lora.inFeatures, lora.outFeatures)
                let gA = p.grad(lora.slotA), gB = p.grad(lora.slotB)
                for i in 0..<r {
                    let row = Self.norm(gA + i * n, n)
                    let column = (0..<out).reduce(0.0) { $0 + Double(gB[$1 * r + i]) * Double(gB[$1 * r + i]) }.squareRoot()
                    drift += Double(ref.lr) * theta[i] * (row + column)
                }
            }
        }
        hooks.extraLossBound = { _, loss in drift / loss }
        try Self.train(ref, model: model, set: set, hooks: hooks)
    }

    /// AdaLoRA with PEFT's schedule over 3 steps (init_r 4 → target_r 2, tinit 0, deltaT 1), so the
    /// budget masks after steps 2 and 3 (0-based 1, 2) and the masked λ enter step 3's loss and the
    /// final one. Both losses are compared: the cross-entropy, which both sides define identically,
    /// and PEFT's training loss, cross-entropy + orth_reg_weight·R; the step-1 gradients are of
    /// the latter (PEFT's .grad), so they include R's. The masks must be PEFT's exactly: the
    /// triplet scores are products of EMAs of |θ·∇θ|, each entry's relative rounding about
    /// `forwardEstimate` (δ), the products 2δ, for each side: the score the budget cuts at must be
    /// separated from the next by more than 4δ relative, or the test would not be deciding anything.
    @Test func adaLoRAMatchesPEFT() throws {
        let (ref, model, initial) = try Self.load("adalora")
        defer { try? FileManager.default.removeItem(at: initial) }
        let loaded = try PEFTAdapter.load(dir: initial.path, into: model)
        loaded.detach()
        var config = loaded.config
        #expect(config.rank == ref.peft_config.init_r && config.options(AdaLoRAOptions.self).settings.targetR == ref.peft_config.target_r)
        var settings = config.options(AdaLoRAOptions.self).settings
        settings.totalStep = ref.peft_config.total_step   // the import leaves it out (loaded for use)
        config.options = AdaLoRAOptions(settings)
        let set = try AdapterSet(model: model, config: config)
        try Self.copyValues(from: loaded, into: set)
        let budget = try #require(set.adaLoRABudget)
        let delta = RoundingBound.forwardEstimate(model.config)
        let budgets = try #require(ref.budgets), masks = try #require(ref.masks)
        var hooks = Hooks()
        hooks.afterStep = { step in
            let (b, masking) = budget.schedule(step: step)
            #expect(masking == (budgets[String(step)] != nil), "step \(step + 1): Tinh masks: \(masking)")
            guard let want = masks[String(step)] else {
                #expect(budget.totalRank == budget.initialBudget, "step \(step + 1): nothing masked yet")
                return
            }
            #expect(b == budgets[String(step)] && budget.lastMaskingStep == step && budget.totalRank == b, "step \(step + 1): budget \(b)")
            for (name, adapter) in set.modules {
                let kept = try #require(adapter as? AdaLoRA).keptTriplets
                let mine = (0..<budget.initR).map(kept.contains)
                #expect(mine == want[PEFTNames.module(name) + ".lora_E"], "step \(step + 1) \(name): kept \(mine)")
            }
            let scores = budget.tripletScores().flatMap { $0 }.map(Double.init).sorted()
            let k = budget.initialBudget - b
            let gap = (scores[k] - scores[k - 1]) / scores[k]
            #expect(gap > 4 * delta, "step \(step + 1): the cut's scores are \(gap) apart (relative), within the rounding 4δ = \(4 * delta)")
        }
        try Self.train(ref, model: model, set: set, hooks: hooks)
    }

    /// Delta-LoRA against the script's PEFT LoRA plus the paper's W ← W + λ·s·(B′A′ − BA) (NumPy)
    /// after each step t ≥ deltaStart (0-based on both sides: with 1, W is still W₀ after the first
    /// step and moves after the second): the losses, and ‖W − W₀‖_F of every adapted module at the
    /// end. That norm differs between the sides by the trajectories of A and B (their motion's
    /// relative rounding about the gradients', `forwardEstimate`) and by rounding W's additions in
    /// float32, ≤ u·‖W‖_F per update and side.
    @Test func deltaLoRAMatchesThePapersUpdate() throws {
        let (ref, model, initial) = try Self.load("deltalora")
        defer { try? FileManager.default.removeItem(at: initial) }
        let loaded = try PEFTAdapter.load(dir: initial.path, into: model)
        loaded.detach()
        var config = loaded.config
        config.method = .deltaLoRA
        let delta = DeltaLoRAOptions(lambda: try #require(ref.delta_lambda), start: try #require(ref.delta_start))
        config.options = delta
        let set = try AdapterSet(model: model, config: config)
        try Self.copyValues(from: loaded, into: set)
        try set.restoreExtraState(set.extraState())   // W as it is; the copied A, B are the "before" of step 1
        let deltas = try set.modules.map { ($0.name, try #require($0.adapter as? DeltaLoRA)) }
        let w0 = deltas.map { $0.1.weight.array }
        var hooks = Hooks()
        hooks.afterStep = { step in
            for ((name, d), w) in zip(deltas, w0) {
                #expect((d.weight.array != w) == (step >= delta.start), "\(name) after step \(step + 1)")
            }
        }
        try Self.train(ref, model: model, set: set, hooks: hooks)
        let want = try #require(ref.delta_w_norms)
        #expect(Set(want.keys) == Set(deltas.map { PEFTNames.module($0.0) }))
        let updates = Double(ref.losses.count - delta.start)
        for ((name, d), w) in zip(deltas, w0) {
            let moved = zip(d.weight.array, w).map { Double($0) - Double($1) }
            let norm = moved.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let size = w.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() + norm
            let expected = try #require(want[PEFTNames.module(name)])
            let bound = RoundingBound.forwardEstimate(model.config) + 2 * updates * RoundingBound.u * size / expected
            #expect(abs(norm - expected) <= bound * expected, "\(name): ‖W − W₀‖ \(norm) vs PEFT's \(expected), bound \(bound) relative")
        }
    }
}
