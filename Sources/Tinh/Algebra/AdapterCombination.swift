/// How `tinh adapters merge` combines adapters, each with a weight wᵢ. Every input is first put in
/// LoRA form with its scale folded into B (ΔWᵢ = Bᵢ·Aᵢ).
public enum AdapterCombination: String, CaseIterable, Sendable {
    /// Exact: A = [A₁; A₂; …], B = [w₁B₁, w₂B₂, …], so B·A = Σ wᵢ·ΔWᵢ at rank Σ rᵢ.
    case cat
    /// PEFT's "linear": A = Σ √|wᵢ|·Aᵢ and B = Σ sign(wᵢ)·√|wᵢ|·Bᵢ at the common rank. Not the
    /// weighted sum of the ΔWᵢ (cross terms Bᵢ·Aⱼ appear) unless one weight is non-zero.
    case linear
    /// TIES (Yadav et al., 2023) on A and on B, as PEFT's "ties": keep each input's `density` share
    /// of largest-magnitude entries, elect each entry's sign from the weighted sum, and average the
    /// weighted entries that agree with it.
    case ties
    /// DARE (Yu et al., 2023) on A and on B, as PEFT's "dare_linear": drop each entry with
    /// probability 1 − density (seeded), rescale the kept ones by 1/density, then `linear`.
    case dare
}
