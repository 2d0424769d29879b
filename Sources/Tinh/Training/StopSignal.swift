import Foundation

/// SIGTERM and SIGINT (what Slurm and Ctrl-C send) ask the run to stop at the next step boundary:
/// every rank's request travels in that step's all-reduce, so all ranks agree on the step, rank 0
/// writes a checkpoint, and everyone exits with `TrainingStopped.exitCode`. A second signal kills
/// the process at once (the default action is restored after the first).
public enum StopSignal {
    /// Set from the signal handler; read once per step. A pointer allocated before the handler is
    /// installed, so the handler touches no lazily initialised Swift state.
    nonisolated(unsafe) static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.pointee = 0
        return p
    }()

    public static func install() {
        _ = flag
        for sig in [SIGTERM, SIGINT] {
            signal(sig) { received in
                StopSignal.flag.pointee = 1
                signal(received, SIG_DFL)
            }
        }
    }

    public static var requested: Bool { flag.pointee != 0 }
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
