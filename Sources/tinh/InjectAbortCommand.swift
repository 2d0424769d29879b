import ArgumentParser
import Foundation
import Tinh

/// Fault injection for tests: one rank aborts while the others wait in a barrier.
/// The job must end (not hang) with the message shown.
struct InjectAbortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject-abort", abstract: "Testing aid: rank --rank aborts the job.", shouldDisplay: false)

    @OptionGroup var communicator: CommunicatorOptions
    @Option var rank = 0
    @Option var code: Int32 = 3
    @Option var message = "injected failure"

    func run() throws {
        let comm = try communicator.make()
        if comm.rank == rank {
            usleep(200_000)
            comm.abort(message: message, code: code)
        }
        try comm.barrier()  // the others wait here until the abort ends the job
        fail("rank \(comm.rank) passed the barrier although rank \(rank) should have aborted")
    }
}
