import Foundation

/// Where a training step spends its time, for `tinh bench`.
public enum Phase: Int, CaseIterable, Sendable {
    case embedding, attention, mlp, lmHeadAndLoss, adapter, allreduce, optimizer, other

    public var name: String {
        switch self {
        case .embedding: "embedding"
        case .attention: "attention"
        case .mlp: "mlp"
        case .lmHeadAndLoss: "lm_head_loss"
        case .adapter: "adapter"
        case .allreduce: "allreduce"
        case .optimizer: "optimizer"
        case .other: "other"
        }
    }
}

/// A per-process accumulator of exclusive time per `Phase`. Disabled (the default) it costs one
/// branch per call: the training code marks its phases unconditionally, and only a benchmark turns
/// the clock on. Phases nest: `enter` charges the time so far to the phase being left, so a
/// nested phase (adapter math inside attention) is not counted twice.
///
/// It times the thread that called `start` only (the model runs on one thread; BLAS threads are
/// below this level): calls from other threads, e.g. other models in concurrent tests, are ignored.
public enum PhaseTimer {
    nonisolated(unsafe) public private(set) static var enabled = false
    nonisolated(unsafe) private static var owner = pthread_self()
    nonisolated(unsafe) private static let totals: UnsafeMutablePointer<Double> = {
        let p = UnsafeMutablePointer<Double>.allocate(capacity: Phase.allCases.count)
        p.initialize(repeating: 0, count: Phase.allCases.count)
        return p
    }()
    nonisolated(unsafe) private static var current = Phase.other
    nonisolated(unsafe) private static var mark: UInt64 = 0

    /// Turns timing on for the calling thread and clears the totals.
    public static func start() {
        owner = pthread_self()
        reset()
        current = .other
        enabled = true
    }

    public static func stop() {
        if active { charge() }
        enabled = false
    }

    public static func reset() {
        totals.update(repeating: 0, count: Phase.allCases.count)
        mark = now()
    }

    @inline(__always) private static var active: Bool { enabled && pthread_equal(owner, pthread_self()) != 0 }

    /// Seconds per phase since `start`/`reset`.
    public static var seconds: [Phase: Double] {
        if active { charge() }
        var out: [Phase: Double] = [:]
        for p in Phase.allCases { out[p] = totals[p.rawValue] }
        return out
    }

    /// Switches to `phase`; returns the phase to pass back to `leave`.
    @inline(__always) public static func enter(_ phase: Phase) -> Phase {
        guard active else { return phase }
        charge()
        let previous = current
        current = phase
        return previous
    }

    /// Back to `previous` (the value `enter` returned).
    @inline(__always) public static func leave(_ previous: Phase) {
        guard active else { return }
        charge()
        current = previous
    }

    /// Runs `body` as `phase`.
    @inline(__always) public static func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        let previous = enter(phase)
        defer { leave(previous) }
        return try body()
    }

    private static func charge() {
        let t = now()
        totals[current.rawValue] += Double(t &- mark) * 1e-9
        mark = t
    }

    @inline(__always) private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
