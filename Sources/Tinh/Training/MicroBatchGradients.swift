/// The summed gradients of a step's earlier micro-batches on this rank, kept apart from the
/// buffer that backward adds into. Every micro-batch's gradient is then computed from zero, and
/// the micro-batches are summed by one float addition each, in order: ((c₀ + c₁) + c₂) + … .
///
/// Why: backward accumulates inside its GEMMs and loops, where the running value joins the sum
/// at a point the library and CPU choose. Computed from zero, c_k is the same bits on one rank
/// as on any rank that holds the same micro-batch (same shapes, same library). So 1 rank with 2
/// micro-batches makes exactly the update that 2 ranks with 1 each make (their all-reduce adds
/// c₀ and c₁ once, and float addition is commutative), on every CPU, by construction. For more
/// ranks the all-reduce's own order applies (see DataParallelTests).
///
/// Costs one buffer of the gradient's size and one pass over it per micro-batch, only with
/// gradient accumulation (for full fine-tuning that is a second copy of the model's size).
final class MicroBatchGradients {
    private let sum: UnsafeMutableBufferPointer<Float>
    /// Whether `sum` holds the gradients of this step's earlier micro-batches.
    private(set) var holds = false

    init(count: Int) {
        sum = .allocate(capacity: count)
    }

    deinit { sum.deallocate() }

    /// A new step: nothing set aside yet.
    func begin() { holds = false }

    /// Before the backward of micro-batch k ≥ 1: adds micro-batch k − 1's gradients (in `grads`)
    /// to the sum and zeroes `grads` for the next backward.
    func setAside(_ grads: UnsafeMutableBufferPointer<Float>) {
        precondition(grads.count == sum.count)
        let g = grads.baseAddress!, s = sum.baseAddress!
        if holds {
            for i in 0..<sum.count { s[i] += g[i] }
        } else {
            s.update(from: g, count: sum.count)
            holds = true
        }
        g.update(repeating: 0, count: grads.count)
    }

    /// Adds the earlier micro-batches' sum into `range` of `grads`, which then holds this rank's
    /// gradient for the step: the sum plus the last micro-batch's (before `range` is all-reduced).
    func addBack(into grads: UnsafeMutableBufferPointer<Float>, range: Range<Int>) {
        guard holds, !range.isEmpty else { return }
        let g = grads.baseAddress!, s = sum.baseAddress!
        for i in range { g[i] = s[i] + g[i] }
    }
}
