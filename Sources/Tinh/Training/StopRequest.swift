import Foundation

/// Whether someone asked the run to stop at the next step boundary: the trainer polls it once per
/// step, and every rank's answer travels in that step's all-reduce, so all ranks agree on the step,
/// rank 0 writes a checkpoint, and everyone exits with `TrainingStopped.exitCode`. The `tinh`
/// command makes one from its SIGTERM/SIGINT handlers; the library installs no handler.
public struct StopRequest: Sendable {
    private let poll: @Sendable () -> Bool

    /// `poll` answers whether a stop was asked for; it runs once per step, on the training thread.
    public init(_ poll: @escaping @Sendable () -> Bool) { self.poll = poll }

    /// Never asks to stop.
    public static let never = StopRequest { false }

    public var isRequested: Bool { poll() }
}

/// The run stopped early on request, after writing a checkpoint every rank agreed on.
public struct TrainingStopped: Error, CustomStringConvertible {
    /// EX_TEMPFAIL: "try again", which is what the user (or Slurm's requeue) should do.
    public static let exitCode: Int32 = 75
    public var stepsDone: Int
    public var checkpoint: String
    public var description: String {
        "stopped by a signal after step \(stepsDone); checkpoint \(checkpoint). Continue with the same command plus --resume."
    }
}
