import Foundation
import Tinh

/// SIGTERM and SIGINT (what Slurm and Ctrl-C send) ask `tinh train` to stop at the next step
/// boundary (`StopRequest`). A second signal kills the process at once: the handler restores the
/// default action of the signal it received, and nothing else.
///
/// That restored default is also the record that a signal came: a POSIX handler can reach only
/// global state, so instead of a flag the request reads the kernel's own disposition of the two
/// signals (`sigaction`), which the handler changed. No Swift variable is shared with the handler.
enum StopSignals {
    static let signals = [SIGTERM, SIGINT]

    /// Installs the handlers; the returned request is true once either signal arrived.
    static func install() -> StopRequest {
        for sig in signals {
            signal(sig) { received in _ = signal(received, SIG_DFL) }
        }
        return StopRequest { signals.contains(where: isDefault) }
    }

    /// Whether `sig` has its default action again (our handler ran, or none was installed).
    static func isDefault(_ sig: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(sig, nil, &current) == 0 else { return false }
        #if canImport(Glibc)
        return current.__sigaction_handler.sa_handler == nil
        #else
        return current.__sigaction_u.__sa_handler == nil
        #endif
    }
}
