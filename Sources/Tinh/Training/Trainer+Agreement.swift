import Foundation

/// During a run the ranks compare state they update without communication: a difference is a
/// bug, so it is an error on every rank rather than ranks that silently train different models.
/// (The start-of-run comparison is `checkStartAgreement`, Trainer+Setup.)
extension Trainer {
    /// Every rank hashes its extra state (Delta-LoRA's moved weights, updated on each rank without
    /// communication) and the ranks compare the hashes: a difference is an error on every rank.
    /// Returns the agreed checksum, or nil when there is nothing to compare.
    func checkExtraStateAgreement() throws -> String? {
        guard comm.size > 1, !adapters.extraState().isEmpty else { return nil }
        if faults.perturbs(rank: comm.rank), let t = adapters.extraState().min(by: { $0.key < $1.key })?.value {
            t.data[0] = t.data[0].nextUp
        }
        let sum = adapters.extraStateChecksum()
        try RankAgreement.check(["\(config.adapter.method) weights after step \(step) (each rank updates them without communication, so they must be bit-identical)": sum], comm: comm)
        return sum
    }

    /// AdaLoRA: after a step that pruned, the ranks compare a fingerprint of their masks. They
    /// prune from identical all-reduced gradients and values, so a difference is a bug: an error
    /// on every rank rather than ranks that silently train different models.
    func checkMaskAgreement(step: Int) throws {
        guard let budget = adapters.adaLoRABudget, budget.lastMaskingStep == step else { return }
        var fingerprint = budget.maskFingerprint
        if faults.perturbs(rank: comm.rank) { fingerprint += "-perturbed" }
        try RankAgreement.check(["AdaLoRA masks after step \(step + 1) (computed from all-reduced gradients, so they must be identical)": fingerprint], comm: comm)
        if let total = budget.settings.totalStep, step == total - budget.settings.tfinal {
            stepNotes.append("AdaLoRA: final rank budget after step \(step + 1): \(budget.totalRank) of \(budget.initialBudget) triplets kept "
                + "(target \(budget.targetBudget)); masks identical on all \(comm.size) rank(s) (FNV-1a \(budget.maskFingerprint))")
        }
    }
}
