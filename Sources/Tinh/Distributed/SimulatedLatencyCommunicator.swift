import Foundation

/// SIMULATED network latency: wraps a communicator and makes every collective take at least
/// `latencySeconds` longer, as a link delay would. For machines whose kernel has no `tc netem`
/// (launch/cluster --delay uses this then). The result of each collective is the inner one's,
/// unchanged; only time is added. Everything that reports on a run names the delay "simulated".
///
/// One α per collective, not per message of the algorithm: a real delay would cost a ring
/// all-reduce 2(p−1)·α. The scaling model fits α from what it measures, so it sees this as an α
/// that does not grow with p; say so next to numbers measured with it.
public final class SimulatedLatencyCommunicator: Communicator {
    public let inner: Communicator
    public let latencySeconds: Double

    /// The environment variable that turns the wrapper on (milliseconds per collective).
    public static let environmentKey = "TINH_SIMULATED_LATENCY_MS"

    public init(wrapping inner: Communicator, latencySeconds: Double) {
        self.inner = inner
        self.latencySeconds = latencySeconds
    }

    /// The latency TINH_SIMULATED_LATENCY_MS in `environment` asks for, in seconds (nil when unset or 0).
    public static func requestedLatency(_ environment: [String: String]) throws -> Double? {
        guard let text = environment[environmentKey], !text.isEmpty else { return nil }
        guard let ms = Double(text), ms.isFinite, ms >= 0, ms <= 10_000 else {
            throw TinhError.invalidInput("\(environmentKey)=\(text): expected milliseconds between 0 and 10000")
        }
        return ms > 0 ? ms / 1000 : nil
    }

    /// How every report names this communicator's added delay.
    public var label: String { String(format: "SIMULATED link latency: +%.3g ms per collective (%@)", latencySeconds * 1000, Self.environmentKey) }

    public var rank: Int { inner.rank }
    public var size: Int { inner.size }
    public var localRank: Int { inner.localRank }
    public var localSize: Int { inner.localSize }
    public var processorName: String { inner.processorName }
    public var libraryVersion: String { "\(label) over \(inner.libraryVersion)" }

    public func allreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        let due = inner.wallTime() + latencySeconds
        try inner.allreduceSum(buffer)
        sleep(until: due)
    }

    public func startAllreduceSum<T: ReducibleElement>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> PendingReduction {
        DelayedReduction(inner: try inner.startAllreduceSum(buffer), due: inner.wallTime() + latencySeconds, comm: self)
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        let due = inner.wallTime() + latencySeconds
        try inner.broadcast(buffer, root: root)
        sleep(until: due)
    }

    public func barrier() throws {
        let due = inner.wallTime() + latencySeconds
        try inner.barrier()
        sleep(until: due)
    }

    public func wallTime() -> Double { inner.wallTime() }

    public func abort(message: String, code: Int32) -> Never { inner.abort(message: message, code: code) }

    func sleep(until due: Double) {
        let left = due - inner.wallTime()
        if left > 0 { usleep(UInt32(min(left * 1e6, Double(UInt32.max)))) }
    }
}

/// A non-blocking reduction that is not done before its simulated delay has passed, so overlap
/// with computation hides the delay as it would hide a real one.
final class DelayedReduction: PendingReduction {
    let inner: PendingReduction
    let due: Double
    unowned let comm: SimulatedLatencyCommunicator

    init(inner: PendingReduction, due: Double, comm: SimulatedLatencyCommunicator) {
        self.inner = inner
        self.due = due
        self.comm = comm
    }

    func test() throws -> Bool {
        let done = try inner.test()
        return done && comm.wallTime() >= due
    }

    func wait() throws {
        try inner.wait()
        comm.sleep(until: due)
    }
}

extension Communicator {
    /// The simulated-latency layer of this communicator, also under wrappers such as the
    /// collective watchdog, so every report can say that its delay was simulated.
    public var simulatedLatency: SimulatedLatencyCommunicator? {
        if let simulated = self as? SimulatedLatencyCommunicator { return simulated }
        if let watched = self as? CollectiveWatchdog { return watched.inner.simulatedLatency }
        return nil
    }
}
