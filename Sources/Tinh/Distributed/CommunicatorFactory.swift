import Foundation

/// How a command picks its communicator.
public enum CommunicatorMode: String, CaseIterable, Sendable {
    /// MPI when launched by mpirun (its environment says so), else a local single process.
    case auto
    /// Always MPI; without mpirun this is an MPI singleton job of 1.
    case mpi
    /// Always a single process, even under mpirun (each rank then runs alone).
    case local
}

/// The process environment is the caller's to read (the `tinh` command passes its own): the
/// library looks only at the dictionary it is given.
public enum Communicators {
    /// True when `environment` (the process's) says a process manager (mpirun, srun with PMIx) started this process.
    public static func launchedByMPI(environment: [String: String]) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// With TINH_SIMULATED_LATENCY_MS set in `environment` and more than one rank, the communicator adds that
    /// SIMULATED delay to every collective (`SimulatedLatencyCommunicator`; its `libraryVersion` says so).
    public static func make(_ mode: CommunicatorMode = .auto, environment: [String: String]) throws -> Communicator {
        let base: Communicator
        switch mode {
        case .local: base = LocalCommunicator()
        case .mpi: base = try MPICommunicator.shared()
        case .auto: base = launchedByMPI(environment: environment) ? try MPICommunicator.shared() : LocalCommunicator()
        }
        // A job of one rank sends nothing over a link: no delay to simulate.
        guard base.size > 1, let latency = try SimulatedLatencyCommunicator.requestedLatency(environment) else { return base }
        return SimulatedLatencyCommunicator(wrapping: base, latencySeconds: latency)
    }
}
