import Foundation

/// A communicator whose collectives give up after `timeout` seconds: each one runs non-blocking
/// and is polled; a rank that waits longer (another rank stalled, or dead without the launcher
/// noticing) reports what it was waiting in and aborts the whole job with `exitCode`.
/// `activity` says what the caller is doing ("the gradient all-reduce of step 12"), for that message.
public final class CollectiveWatchdog: Communicator {
    /// timeout(1)'s status for "gave up waiting".
    public static let exitCode: Int32 = 124
    public static let defaultTimeout: Double = 600

    public let inner: Communicator
    public let timeout: Double
    public var activity = "starting up"

    public init(_ inner: Communicator, timeout: Double) {
        self.inner = inner
        self.timeout = timeout
    }

    public var rank: Int { inner.rank }
    public var size: Int { inner.size }
    public var localRank: Int { inner.localRank }
    public var localSize: Int { inner.localSize }
    public var processorName: String { inner.processorName }
    public var libraryVersion: String { inner.libraryVersion }
    public func wallTime() -> Double { inner.wallTime() }
    public func abort(message: String, code: Int32) -> Never { inner.abort(message: message, code: code) }

    public func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        guard size > 1 else { return try inner.allreduceSum(buffer) }
        try waitWithDeadline(try inner.startAllreduceSum(buffer), "an all-reduce of \(buffer.count) values")
    }

    /// The reduction's `wait()` (the bucketed all-reduce's finish) is watched like a blocking one.
    public func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction {
        let pending = try inner.startAllreduceSum(buffer)
        guard size > 1 else { return pending }
        return WatchedReduction(pending, watchdog: self, what: "a non-blocking all-reduce of \(buffer.count) values")
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard size > 1, let mpi = inner as? MPICommunicator else { return try inner.broadcast(buffer, root: root) }
        try waitWithDeadline(try mpi.startBroadcast(buffer, root: root), "a broadcast of \(buffer.count) bytes from rank \(root)")
    }

    public func barrier() throws {
        guard size > 1, let mpi = inner as? MPICommunicator else { return try inner.barrier() }
        try waitWithDeadline(try mpi.startBarrier(), "a barrier")
    }

    /// Polls `pending` until it completes, napping a little longer each time (≤ 0.5 ms, so a
    /// collective finishes at most that late); past `timeout` the job is aborted.
    func waitWithDeadline(_ pending: PendingReduction, _ what: String) throws {
        if try pending.test() { return }
        let start = monotonicSeconds()
        var nap: useconds_t = 10
        while !(try pending.test()) {
            let waited = monotonicSeconds() - start
            if waited > timeout {
                abort(message: "waited \(String(format: "%.0f", waited)) s in \(what) during \(activity) without every rank arriving "
                          + "(--collective-timeout \(String(format: "%g", timeout))): another rank is stalled or dead; aborting the job",
                      code: Self.exitCode)
            }
            usleep(nap)
            nap = min(nap * 2, 500)
        }
    }
}

/// A reduction in flight whose `wait()` gives up after the watchdog's timeout.
final class WatchedReduction: PendingReduction {
    let inner: PendingReduction
    let watchdog: CollectiveWatchdog
    let what: String

    init(_ inner: PendingReduction, watchdog: CollectiveWatchdog, what: String) {
        self.inner = inner
        self.watchdog = watchdog
        self.what = what
    }

    func test() throws -> Bool { try inner.test() }
    func wait() throws { try watchdog.waitWithDeadline(inner, what) }
}
