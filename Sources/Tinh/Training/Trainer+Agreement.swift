import Foundation

/// During a run the ranks compare state they update without communication: a difference is a
/// bug, so it is an error on every rank rather than ranks that silently train different models.
/// (The start-of-run comparison is `checkStartAgreement`, Trainer+Setup.)
extension Trainer {
    /// The ranks compare the fingerprint of what the method updates on each rank alone, when it
    /// has something to compare after `step` (0-based; `checkpoint`: one is being written):
    /// Delta-LoRA's moved weights at checkpoints, AdaLoRA's masks after a masking step. Returns
    /// the agreed fingerprint, or nil when there was nothing to compare.
    func checkAgreement(afterStep step: Int, checkpoint: Bool) throws -> String? {
        guard comm.size > 1, let (what, fingerprint) = adapters.method.agreement(afterStep: step, checkpoint: checkpoint) else { return nil }
        let mine = faults.perturbs(rank: comm.rank) ? fingerprint + "-perturbed" : fingerprint
        try RankAgreement.check([what: mine], comm: comm)
        return fingerprint
    }
}
