import Foundation

/// PiSSA initialisation (Meng et al., 2024; PEFT's `init_lora_weights="pissa"`): A and B start from
/// the top-r singular triplets of W = U·S·Vᵀ, and W is replaced by its residual, so that at step 0
///     W_res + s·B₀·A₀ = W,   A₀ = diag(√(S_r/s))·V_rᵀ [r, in],   B₀ = U_r·diag(√(S_r/s)) [out, r]
/// (S divided by s as PEFT does, so that s·B₀·A₀ is exactly the top-r part). The residual lives in a
/// private copy of each adapted weight (`Linear.makeWeightPrivate()`); the rest of the model stays
/// shared. Every rank computes the same SVD from the same W; the trainer's start-of-run agreement
/// on the adapter init (A₀, B₀) and the model's weights (the residuals) checks it.
///
/// Export: the trained A, B only make sense on W_res, which PEFT users do not have. As PEFT's
/// `path_initial_model_for_weight_conversion` does, the export is the rank-2r LoRA
///     ΔW = s·(B·A − B₀·A₀) = s·[B, −B₀]·[A; A₀]
/// with r and α doubled (α·√2 under rsLoRA), so s is unchanged and the adapter applies to the
/// ORIGINAL base: W + ΔW = W_res + s·B·A, the trained model.
public enum PiSSA {
    /// Its name as `--init` takes it (`LoRAOptions`, which lora and lora-plus share).
    public static let name = "pissa"

    /// Names of A₀ and B₀ within a module, kept as frozen tensors (checkpoints, export).
    static let initialAKey = "lora_A_pissa_initial.weight"
    static let initialBKey = "lora_B_pissa_initial.weight"

    /// A₀ [r, in] and B₀ [out, r] from W [out, in]; subtracts s·B₀·A₀ from `weight` in place.
    static func split(_ weight: Tensor, rank r: Int, scale: Float) throws -> (a: Tensor, b: Tensor) {
        let (out, n) = (weight.shape[0], weight.shape[1])
        let (u, s, vt) = try SVD.thin(weight.data, rows: out, cols: n)
        let k = s.count
        let a = Tensor(shape: [r, n]), b = Tensor(shape: [out, r])
        for j in 0..<r {
            let root = (s[j] / scale).squareRoot()
            for i in 0..<n { a.data[j * n + i] = root * vt.data[j * n + i] }
            for o in 0..<out { b.data[o * r + j] = u.data[o * k + j] * root }
        }
        BLAS.gemm(.none, .none, m: out, n: n, k: r, alpha: -scale, a: b.data, b: a.data, beta: 1, c: weight.data)
        return (a, b)
    }

    /// PEFT's conversion of a trained PiSSA adapter (`tensors` holding A, B and A₀, B₀ of each module)
    /// into a rank-2r LoRA on the original base.
    static func convertedTensors(_ tensors: [String: Tensor]) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, a) in tensors where name.hasSuffix(".lora_A.weight") {
            let module = String(name.dropLast("lora_A.weight".count))
            guard let b = tensors[module + "lora_B.weight"], let a0 = tensors[module + initialAKey], let b0 = tensors[module + initialBKey],
                  a0.shape == a.shape, b0.shape == b.shape else {
                throw TinhError.invalidInput("PiSSA export: \(module.dropLast()) lacks lora_B or the initial A₀, B₀ of the same shapes")
            }
            let (r, n, m) = (a.shape[0], a.shape[1], b.shape[0])
            let stackedA = Tensor(shape: [2 * r, n])
            stackedA.data.update(from: a.data, count: r * n)
            (stackedA.data + r * n).update(from: a0.data, count: r * n)
            let joinedB = Tensor(shape: [m, 2 * r])
            for o in 0..<m {
                for j in 0..<r {
                    joinedB.data[o * 2 * r + j] = b.data[o * r + j]
                    joinedB.data[o * 2 * r + r + j] = -b0.data[o * r + j]
                }
            }
            out[name] = stackedA
            out[module + "lora_B.weight"] = joinedB
        }
        return out
    }
}
