import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// The JSON `tinh doctor --json` prints (the CLI's DoctorJSON), decoded on the test side.
struct DoctorOutput: Decodable {
    var passed: Bool
    var failures: [String]
    var ranks: [DoctorRankReport]
}

@Suite struct LocalCommunicatorTests {
    @Test func suitePassesOnLocalCommunicator() {
        let results = CommunicatorSuite.run(LocalCommunicator(), largeCount: 10_000_000)
        #expect(results.count == 12)
        for r in results { #expect(r.passed, "\(r.name): \(r.detail)") }
        // Only the MPI error-path check has nothing to test without MPI, and it says so.
        #expect(results.filter { $0.detail.hasPrefix("not applicable") }.map(\.name) == ["errors-return"])
    }

    @Test func localBroadcastRejectsOtherRoots() {
        var bytes: [UInt8] = [1, 2, 3]
        #expect(throws: TinhError.self) {
            try bytes.withUnsafeMutableBytes { try LocalCommunicator().broadcast($0, root: 1) }
        }
    }

    @Test func autoModeIsLocalOutsideMPI() throws {
        // The test runner is not started by mpirun.
        #expect(!Communicators.launchedByMPI(environment: ProcessInfo.processInfo.environment))
        #expect(try Communicators.make(.auto, environment: ProcessInfo.processInfo.environment) is LocalCommunicator)
    }
}

/// The same suite under real MPI jobs, through `tinh doctor` launched with launch/run.
@Suite(.serialized) struct MPICommunicatorTests {
    let localCheckNames = CommunicatorSuite.run(LocalCommunicator(), largeCount: 10).map { String($0.name.prefix(15)) }

    func doctor(ranks: Int) throws -> DoctorOutput {
        let result = try TestProcess.launch(ranks: ranks, ["doctor", "--json", "--probe-seconds", "0.2"])
        #expect(result.status == 0, "launch/run -n \(ranks) failed:\n\(result.output)")
        let json = try #require(TestProcess.jsonObject(in: result.output), "no JSON in:\n\(result.output)")
        return try JSONDecoder().decode(DoctorOutput.self, from: json)
    }

    @Test(arguments: [2, 3]) func suitePassesUnderMPIRun(ranks: Int) throws {
        let out = try doctor(ranks: ranks)
        #expect(out.passed, "\(out.failures)")
        #expect(out.ranks.map(\.rank) == Array(0..<ranks))
        #expect(Set(out.ranks.map(\.pid)).count == ranks, "each rank is its own process")
        for r in out.ranks {
            #expect(r.size == ranks && r.localSize == ranks, "one node holds all \(ranks) ranks")
            #expect(r.mpiLibrary.contains("MPI"), "\(r.mpiLibrary)")
            #expect(r.checks.map { String($0.name.prefix(15)) } == localCheckNames, "same suite as LocalCommunicator")
            #expect(r.passed)
            #expect(r.checks.allSatisfy { $0.detail == "ok" }, "under MPI every check runs")
            #expect((r.sgemm?.bestGFLOPS ?? 0) > 0)
        }
        #expect(Set(out.ranks.map(\.localRank)) == Set(0..<ranks))
    }

    @Test func doctorRunsAsPlainSingleton() throws {
        let result = try TestProcess.run([TestProcess.tinh, "doctor", "--probe-seconds", "0.2", "--large-count", "1000"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("All checks passed on every rank."))
        #expect(result.output.contains("local (single process, no MPI)"))
    }

    @Test func mpiCommunicatorWorksAsSingletonWithoutMPIRun() throws {
        let result = try TestProcess.run([TestProcess.tinh, "doctor", "--comm", "mpi", "--json", "--probe-seconds", "0"])
        #expect(result.status == 0, "\(result.output)")
        let out = try JSONDecoder().decode(DoctorOutput.self, from: try #require(TestProcess.jsonObject(in: result.output)))
        #expect(out.passed && out.ranks.count == 1)
        #expect(out.ranks[0].mpiLibrary.contains("Open MPI"))
    }

    @Test func abortingRankEndsTheJobWithItsMessage() throws {
        let marker = "injected-failure-\(UInt32.random(in: 0 ... .max))"
        let result = try TestProcess.launch(ranks: 2, ["inject-abort", "--rank", "1", "--code", "7", "--message", marker], timeout: 60)
        #expect(!result.timedOut, "the job hung")
        #expect(result.status != 0)
        #expect(result.seconds < 20, "took \(result.seconds) s to end")
        #expect(result.output.contains("rank 1/2") && result.output.contains(marker), "\(result.output)")
        // No rank outlives the job.
        // "[i]njected..." matches the ranks' command lines but not pgrep's (or its launcher's) own.
        let left = try TestProcess.run(["pgrep", "-f", "[i]" + marker.dropFirst()])
        #expect(left.status == 1, "processes left behind:\n\(left.output)")
    }
}
