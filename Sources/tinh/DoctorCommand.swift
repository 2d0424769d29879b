import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check MPI and BLAS on every rank: versions, placement, sgemm speed, FMA peak, verified collectives.")

    @OptionGroup var communicator: CommunicatorOptions
    @Flag(help: "Print one JSON document (rank 0) instead of a table.") var json = false
    @Option(help: "Seconds for each rank's single-thread 1024³ sgemm probe and FMA-peak loop (0 skips both).") var probeSeconds = 1.0
    @Option(help: "Elements in the large all-reduce check.") var largeCount = 10_000_000

    func run() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        guard probeSeconds >= 0, largeCount >= 0 else { fail("--probe-seconds and --large-count must not be negative", comm: comm) }
        let report: DoctorReport
        do { report = try Doctor.run(comm, probeSeconds: probeSeconds, largeCount: largeCount) } catch { fail("\(error)", comm: comm) }
        if comm.isRoot {
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(DoctorJSON(report: report)), as: UTF8.self))
            } else {
                print(DoctorTable.render(report))
            }
        }
        MPICommunicator.finalizeIfStarted()
        if !report.passed {
            if comm.isRoot { FileHandle.standardError.write(Data(("tinh doctor: checks failed:\n" + report.failures.joined(separator: "\n") + "\n").utf8)) }
            throw ExitCode(1)
        }
    }
}

/// The JSON `tinh doctor --json` prints: the per-rank reports plus the verdict.
struct DoctorJSON: Encodable {
    var passed: Bool
    var failures: [String]
    var ranks: [DoctorRankReport]
    init(report: DoctorReport) { passed = report.passed; failures = report.failures; ranks = report.ranks }
}

enum DoctorTable {
    static func render(_ report: DoctorReport) -> String {
        guard let first = report.ranks.first else { return "no ranks" }
        var lines = [
            "MPI:      \(first.mpiLibrary)",
            "OpenBLAS: \(first.blasConfig) (kernel \(first.blasCore))",
            "CPU:      \(first.cpu.model)",
            "ISA:      \(first.cpu.level)\(first.cpu.extensions.isEmpty ? "" : " + " + first.cpu.extensions.joined(separator: " "))",
            "GEMMs:    f32 on \(first.cpu.f32GEMMs.joined(separator: ", ")); bf16 \(first.cpu.bf16GEMM ? "yes" : "no") (oneDNN ISA \(first.cpu.oneDNNISA))",
            "Job:      \(first.size) rank(s)",
            "",
            pad(["rank", "host", "local", "pid", "blas threads", "sgemm GFLOP/s (1 thread)", "FMA peak GFLOP/s (1 core)", "checks"]),
        ]
        for r in report.ranks {
            let sgemm = r.sgemm.map { String(format: "%.1f", $0.bestGFLOPS) } ?? "-"
            let peak = r.fmaPeak.map { p in p.widths.map { "\($0.name) " + String(format: "%.1f", $0.gflops) }.joined(separator: ", ") } ?? "-"
            let passed = r.checks.filter(\.passed).count
            lines.append(pad(["\(r.rank)", r.hostname, "\(r.localRank)/\(r.localSize)", "\(r.pid)", "\(r.blasThreads)", sgemm, peak,
                              "\(passed)/\(r.checks.count) \(r.passed ? "ok" : "FAILED")"]))
        }
        for r in report.ranks where r.cpu != first.cpu {
            lines.append("rank \(r.rank) (\(r.hostname)) has another CPU: \(r.cpu.summary)")
        }
        lines.append("")
        lines.append(report.passed ? "All checks passed on every rank." : "FAILED:\n" + report.failures.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }

    private static func pad(_ cells: [String]) -> String {
        let widths = [5, 16, 6, 8, 13, 25, 27, 12]
        return zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " ")
    }
}
