import ArgumentParser
import Foundation
import Tinh

extension CommunicatorMode: ExpressibleByArgument {}

/// `--comm`, shared by every command that can run as part of a job.
struct CommunicatorOptions: ParsableArguments {
    @Option(help: "auto: MPI under mpirun, else one local process; mpi: always MPI; local: never MPI.")
    var comm: CommunicatorMode = .auto

    func make() throws -> Communicator { try Communicators.make(comm, environment: RunEnvironment.variables) }
}

/// Prints a user-facing error and exits non-zero. Under MPI, a failure that only some ranks see
/// must end the job instead of leaving the others waiting, so it aborts through the communicator.
func fail(_ message: String, comm: Communicator? = nil, code: Int32 = 1) -> Never {
    if let comm, comm.size > 1 { comm.abort(message: message, code: code) }
    FileHandle.standardError.write(Data("tinh: \(message)\n".utf8))
    MPICommunicator.finalizeIfStarted()
    Foundation.exit(code)
}
