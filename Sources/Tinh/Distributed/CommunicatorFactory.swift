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

    public static func make(_ mode: CommunicatorMode = .auto) throws -> Communicator {
        switch mode {
        case .local: return LocalCommunicator()
        case .mpi: return try MPICommunicator.shared()
        case .auto: return launchedByMPI ? try MPICommunicator.shared() : LocalCommunicator()
        }
    }
}
