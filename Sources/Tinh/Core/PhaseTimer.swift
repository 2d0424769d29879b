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

/// An accumulator of exclusive time per `Phase`, owned by whoever measures (`tinh bench`'s
/// `TrainingBenchmark`) and handed to the model (`DecoderModel.phaseTimer`, which passes it to its
/// blocks and Linears). The training code marks its phases unconditionally on an optional timer:
/// without one (the default) a mark costs one branch. Phases nest: `enter` charges the time so far
/// to the phase being left, so a nested phase (adapter math inside attention) is not counted twice.
///
/// It times the thread that created it only (the model runs on one thread; BLAS threads are below
/// this level): calls from other threads are ignored, and so is everything after `stop`.
public final class PhaseTimer {
    public private(set) var isRunning = true
    private let owner = pthread_self()
    private var totals = [Double](repeating: 0, count: Phase.allCases.count)
    private var current = Phase.other
    private var mark: UInt64 = 0

    /// Starts timing the calling thread, in phase `other`, with every total zero.
    public init() { mark = Self.now() }

    /// Charges the time so far and stops; later calls change nothing.
    public func stop() {
        if active { charge() }
        isRunning = false
    }

    /// Zeroes the totals (and restarts the clock of the current phase).
    public func reset() {
        totals = [Double](repeating: 0, count: Phase.allCases.count)
        mark = Self.now()
    }

    @inline(__always) private var active: Bool { isRunning && pthread_equal(owner, pthread_self()) != 0 }

    /// Seconds per phase since `init`/`reset`.
    public var seconds: [Phase: Double] {
        if active { charge() }
        var out: [Phase: Double] = [:]
        for p in Phase.allCases { out[p] = totals[p.rawValue] }
        return out
    }

    /// Switches to `phase`; returns the phase to pass back to `leave`.
    @inline(__always) public func enter(_ phase: Phase) -> Phase {
        guard active else { return phase }
        charge()
        let previous = current
        current = phase
        return previous
    }

    /// Back to `previous` (the value `enter` returned).
    @inline(__always) public func leave(_ previous: Phase) {
        guard active else { return }
        charge()
        current = previous
    }

    /// Runs `body` as `phase`.
    @inline(__always) public func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        let previous = enter(phase)
        defer { leave(previous) }
        return try body()
    }

    private func charge() {
        let t = Self.now()
        totals[current.rawValue] += Double(t &- mark) * 1e-9
        mark = t
    }

    @inline(__always) private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Phase marks on a timer that may be absent: without one, `enter` and `leave` are one branch.
extension Optional where Wrapped == PhaseTimer {
    @inline(__always) public func enter(_ phase: Phase) -> Phase {
        guard let timer = self else { return phase }
        return timer.enter(phase)
    }

    @inline(__always) public func leave(_ previous: Phase) {
        guard let timer = self else { return }
        timer.leave(previous)
    }
}
