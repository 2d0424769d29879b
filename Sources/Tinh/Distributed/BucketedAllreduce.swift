/// Sums a flat gradient buffer over the ranks bucket by bucket while backward still runs.
///
/// Per step: `begin()`; then backward reports each finished layer through `layerDone(_:)` (only
/// on the step's last micro-batch, when the gradients are final), which starts the all-reduce of
/// every bucket that became ready and drives the ones in flight (`test()`: Open MPI makes no
/// progress between calls, so without it the whole cost would land in the final wait); then
/// `finish()` starts what is left and waits. Every rank starts the same buckets in the same
/// order, since backward visits the layers in the same order everywhere.
///
/// Time inside communication calls is added to `commSeconds`; `finish()` returns the exposed part
/// (the time after backward during which the gradients were not ready yet).
public final class BucketedAllreduce {
    public let plan: GradientBuckets
    let comm: Communicator
    let grads: UnsafeMutableBufferPointer<Float>
    private var pending: [PendingReduction?]
    private var started = 0       // buckets started this step (a prefix of plan.buckets)
    private var firstOpen = 0     // pending[firstOpen...] may still be running
    /// The first error a communication call threw inside a backward callback (which cannot throw);
    /// `finish()` rethrows it.
    private var deferredError: Error?
    /// Seconds spent inside communication calls since `begin()`.
    public private(set) var commSeconds = 0.0
    /// Called with each bucket's range just before its all-reduce starts (the trainer adds the
    /// earlier micro-batches' gradients there: `MicroBatchGradients`).
    var beforeBucket: ((Range<Int>) -> Void)?

    public init(comm: Communicator, grads: UnsafeMutableBufferPointer<Float>, plan: GradientBuckets) {
        precondition(plan.count == grads.count, "bucket plan of \(plan.count) floats for a buffer of \(grads.count)")
        self.comm = comm
        self.grads = grads
        self.plan = plan
        pending = Array(repeating: nil, count: plan.buckets.count)
    }

    public func begin() {
        for i in pending.indices { pending[i] = nil }
        started = 0
        firstOpen = 0
        deferredError = nil
        commSeconds = 0
    }

    /// Backward finished `layer` (and every layer above it): start the buckets that became ready
    /// and drive those in flight.
    public func layerDone(_ layer: Int) {
        guard deferredError == nil else { return }
        let t0 = comm.wallTime()
        do {
            while started < plan.buckets.count, plan.buckets[started].readyAfterLayer >= layer { try startNext() }
            while firstOpen < started, try pending[firstOpen]!.test() { pending[firstOpen] = nil; firstOpen += 1 }
        } catch {
            deferredError = error
        }
        commSeconds += comm.wallTime() - t0
    }

    /// Starts the remaining buckets and waits for all. Returns the seconds this took (the exposed
    /// communication); the buffer then holds the sums.
    @discardableResult
    public func finish() throws -> Double {
        let t0 = comm.wallTime()
        defer {
            let spent = comm.wallTime() - t0
            commSeconds += spent
        }
        if let deferredError { throw deferredError }
        while started < plan.buckets.count { try startNext() }
        while firstOpen < started {
            try pending[firstOpen]!.wait()
            pending[firstOpen] = nil
            firstOpen += 1
        }
        return comm.wallTime() - t0
    }

    private func startNext() throws {
        let r = plan.buckets[started].range
        beforeBucket?(r)
        pending[started] = try comm.startAllreduceSum(UnsafeMutableBufferPointer(rebasing: grads[r]))
        started += 1
    }
}
