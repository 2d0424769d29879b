import ArgumentParser
import Foundation
import Tinh
import TinhTools

struct ScaleModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-model",
        abstract: "Measure all-reduce times, fit their α–β cost and project data-parallel scaling to many ranks.",
        discussion: """
            --measure (under mpirun, launch/run or launch/cluster run) times allreduceSum from 4 B up to --max-bytes \
            and writes ranks,bytes,seconds to --points. Without --measure: fits α (per message) to the \
            --points of at most 1 KiB and β (per byte) to those of at least --large-message-floor bytes (recursive \
            doubling is assumed below --small-message-limit bytes, a ring above), checks the model on every \
            multi-rank run of --runs (a launch/scaling scaling.csv: each run's own measured compute plus the modelled \
            all-reduces against its measured step time), and predicts weak-scaling step time and efficiency for \
            --ranks per method, with the fitted link and each --link-gbit. Writes OUT/fit.csv, OUT/check.csv, OUT/projection.csv.
            """)

    @Flag(help: "Time the all-reduce on this job's ranks and write --points.") var measure = false
    @Option(help: "All-reduce points CSV (written with --measure, read otherwise).") var points: String
    @Option(help: "Largest all-reduce to time with --measure, in bytes.") var maxBytes = 64 << 20
    @Option(help: "A launch/scaling scaling.csv: per-rank compute and measured step times.") var runs: String?
    @Option(help: "Use only the runs of this setting column value (e.g. 'node' or '2hosts-1gbit').") var setting: String?
    @Option(help: "Output directory for fit.csv, check.csv and projection.csv.") var out: String?
    @Option(help: "Rank counts to predict, comma-separated.") var ranks = "8,16,32,64,128,256,512,1024,2048,4096"
    @Option(help: "Link speeds to predict besides the fitted one, Gbit/s, comma-separated.") var linkGbit = "1,10,100"
    @Option(help: "Messages below this many bytes are modelled as recursive doubling, larger ones as a ring.")
    var smallMessageLimit = AllreduceCostModel.defaultSmallMessageLimit
    @Option(help: "β is fitted on messages of at least this many bytes.") var largeMessageFloor = AllreduceCostModel.defaultLargeMessageFloor

    @OptionGroup var communicator: CommunicatorOptions

    func run() throws {
        if measure { try runMeasure() } else { try runProjection() }
    }

    func runMeasure() throws {
        let comm: Communicator
        do { comm = try communicator.make() } catch { fail("cannot start: \(error)") }
        guard maxBytes >= 4 else { fail("--max-bytes must be at least 4", comm: comm) }
        do {
            let measured = try AllreduceBenchmark.measure(comm, sizes: AllreduceBenchmark.sizes(maxBytes: maxBytes))
            if comm.isRoot {
                let simulated = comm.simulatedLatency
                var csv = "ranks,bytes,seconds,simulated_latency_ms\n"
                for p in measured { csv += "\(p.ranks),\(p.bytes),\(p.seconds),\(simulated.map { $0.latencySeconds * 1000 } ?? 0)\n" }
                try AtomicFile.write(Data(csv.utf8), to: points)
                print("all-reduce on \(comm.size) rank(s), \(comm.libraryVersion.split(separator: "\n").first ?? "")")
                if let simulated { print(simulated.label) }
                for p in measured { print(String(format: "%10d B  %10.1f µs  %8.3f GB/s", p.bytes, p.seconds * 1e6, Double(p.bytes) / p.seconds / 1e9)) }
                print("wrote \(points)")
            }
        } catch { fail("\(error)", comm: comm) }
        MPICommunicator.finalizeIfStarted()
    }

    func runProjection() throws {
        do {
            let measured = try SimpleCSV.allreducePoints(path: points)
            let simulated = try SimpleCSV.rows(path: points).compactMap { $0["simulated_latency_ms"].flatMap(Double.init) }.max()
            var all = try runs.map { try SimpleCSV.measuredRuns(path: $0) } ?? []
            if let setting { all = all.filter { $0.setting == setting } }
            if runs != nil, all.isEmpty { throw TinhError.invalidInput("--runs \(runs!) has no runs\(setting.map { " with setting \($0)" } ?? "")") }
            let rankList = try parseList(ranks, "--ranks") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
            let links = try parseList(linkGbit, "--link-gbit") { Double($0).flatMap { $0 > 0 ? $0 * 1e9 : nil } }
            let projection = try ScalingProjection(points: measured, runs: all, ranks: rankList, linksBitsPerSecond: links,
                                                   setting: setting ?? "all runs", simulatedLatencyMs: simulated.flatMap { $0 > 0 ? $0 : nil },
                                                   smallMessageLimit: smallMessageLimit, largeMessageFloor: largeMessageFloor)
            print("all-reduce fit: " + projection.fitLine)
            if !projection.checks.isEmpty {
                print("\nmodel against measured runs (each run's own compute + modelled all-reduces, no overlap):\n")
                print(projection.checkTable)
                if let worst = projection.worstCheckError { print(String(format: "\nworst error on measured runs: %.1f%% (target 15%%)", 100 * worst)) }
            }
            if !projection.rows.isEmpty {
                print("\npredicted weak-scaling efficiency (step time), per-rank compute of the fewest-rank run\(projection.simulatedNote):\n")
                print(projection.projectionTable)
            }
            if let out {
                let dir = URL(fileURLWithPath: out, isDirectory: true)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try AtomicFile.write(Data(projection.fitCSV.utf8), to: dir.appendingPathComponent("fit.csv").path)
                try AtomicFile.write(Data(projection.checkCSV.utf8), to: dir.appendingPathComponent("check.csv").path)
                try AtomicFile.write(Data(projection.projectionCSV.utf8), to: dir.appendingPathComponent("projection.csv").path)
                let fit = "alpha_s,beta_s_per_byte,small_message_limit,setting,simulated_latency_ms\n"
                    + "\(projection.cost.alpha),\(projection.cost.beta),\(projection.cost.smallMessageLimit),\(projection.setting),\(simulated ?? 0)\n"
                try AtomicFile.write(Data(fit.utf8), to: dir.appendingPathComponent("alpha_beta.csv").path)
                print("\nwrote \(dir.path)/{alpha_beta,fit,check,projection}.csv")
            }
        } catch { fail("\(error)") }
    }

    func parseList<T>(_ text: String, _ flag: String, _ parse: (String) -> T?) throws -> [T] {
        try text.split(separator: ",").map { part in
            guard let v = parse(part.trimmingCharacters(in: .whitespaces)) else {
                throw TinhError.invalidInput("\(flag): '\(part)' is not a positive number")
            }
            return v
        }
    }
}
