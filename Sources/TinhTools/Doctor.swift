import Tinh
import Foundation

/// What `tinh doctor` learns about one rank: the first thing to run on a new machine or cluster.
public struct DoctorRankReport: Codable, Sendable {
    public var rank: Int
    public var size: Int
    public var localRank: Int
    public var localSize: Int
    public var hostname: String
    public var pid: Int32
    public var mpiLibrary: String
    public var blasConfig: String
    public var blasCore: String
    public var blasThreads: Int
    /// The CPU, its ISA level and the GEMM libraries usable on it.
    public var cpu: CPUDescription
    public var sgemm: SgemmProbe.Result?
    /// The core's FMA peak at each vector width it has (MFU's denominator).
    public var fmaPeak: FMAPeak.Result?
    public var checks: [CommunicatorCheck]

    public var passed: Bool { checks.allSatisfy(\.passed) }
}

public struct DoctorReport: Codable, Sendable {
    public var ranks: [DoctorRankReport]
    public var passed: Bool { ranks.allSatisfy(\.passed) }

    /// Every failed check, named by rank.
    public var failures: [String] {
        ranks.flatMap { r in r.checks.filter { !$0.passed }.map { "rank \(r.rank): \($0.name): \($0.detail)" } }
    }
}

public enum Doctor {
    /// Runs the probe and the collective checks on this rank, then shares every rank's report
    /// with every rank (so all ranks agree on success and exit code).
    public static func run(_ comm: Communicator, probeSeconds: Double, largeCount: Int = 10_000_000) throws -> DoctorReport {
        let checks = CommunicatorSuite.run(comm, largeCount: largeCount)
        // Probe after the checks, in turn per rank on a node, so ranks don't slow each other's probe.
        var probe: SgemmProbe.Result?
        var peak: FMAPeak.Result?
        if probeSeconds > 0 {
            for turn in 0..<comm.localSize {
                if turn == comm.localRank {
                    probe = SgemmProbe.measure(seconds: probeSeconds, threads: 1)
                    peak = FMAPeak.measure(seconds: probeSeconds)
                }
                try comm.barrier()
            }
        }
        let mine = DoctorRankReport(
            rank: comm.rank, size: comm.size, localRank: comm.localRank, localSize: comm.localSize,
            hostname: comm.processorName, pid: getpid(),
            mpiLibrary: comm.libraryVersion.split(separator: "\n").first.map(String.init) ?? "",
            blasConfig: BLAS.config, blasCore: BLAS.coreName, blasThreads: BLAS.threads,
            cpu: CPUDescription.current(), sgemm: probe, fmaPeak: peak, checks: checks)
        let encoded = try JSONEncoder().encode(mine)
        let all = try comm.allGatherBytes(Array(encoded))
        let ranks = try all.map { try JSONDecoder().decode(DoctorRankReport.self, from: Data($0)) }
        return DoctorReport(ranks: ranks)
    }
}
