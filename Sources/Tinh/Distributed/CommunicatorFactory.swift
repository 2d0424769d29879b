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

public enum Communicators {
    /// True when a process manager (mpirun, srun with PMIx) started this process.
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { env[$0] != nil }
    }

    /// With TINH_SIMULATED_LATENCY_MS set, the communicator adds that SIMULATED delay to every
    /// collective (`SimulatedLatencyCommunicator`; its `libraryVersion` says so).
    public static func make(_ mode: CommunicatorMode = .auto) throws -> Communicator {
        let base: Communicator
        switch mode {
        case .local: base = LocalCommunicator()
        case .mpi: base = try MPICommunicator.shared()
        case .auto: base = launchedByMPI ? try MPICommunicator.shared() : LocalCommunicator()
        }
        guard let latency = try SimulatedLatencyCommunicator.requestedLatency() else { return base }
        return SimulatedLatencyCommunicator(wrapping: base, latencySeconds: latency)
    }
}
