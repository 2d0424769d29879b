import Foundation
import Tinh

/// Runs the built `tinh` (or mpirun, or a launch script) for multi-process tests.
enum TestProcess {
    struct Result {
        var status: Int32
        var output: String
        var seconds: Double
        var timedOut: Bool
    }

    /// The folder that holds the test bundle, and next to it the `tinh` executable of the same build.
    static var binDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }
    static var tinh: String { binDirectory.appendingPathComponent("tinh").path }

    /// The package root (the folder with Package.swift).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs `arguments[0]` with the rest, merging stdout and stderr. Kills the whole process
    /// group after `timeout` seconds so a hung MPI job fails the test instead of hanging it.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["--wait"] + arguments  // own process group, so a timeout can kill every rank
        var env = ProcessInfo.processInfo.environment
        env["TINH_BIN"] = tinh
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let start = Date()
        try process.run()
        let pid = process.processIdentifier
        let timedOut = TimeoutFlag()
        let killer = DispatchWorkItem {
            timedOut.set()
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()  // before waitUntilExit: a full pipe would block the child
        process.waitUntilExit()
        killer.cancel()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                      seconds: Date().timeIntervalSince(start), timedOut: timedOut.value)
    }

    /// `launch/run -n N -- ARGS` with the test build's tinh.
    static func launch(ranks: Int, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 180) throws -> Result {
        try run([packageRoot.appendingPathComponent("launch/run").path, "-n", "\(ranks)", "--"] + arguments,
                environment: environment, timeout: timeout)
    }

    /// The environment that makes runs with different rank counts do the same float arithmetic per
    /// micro-batch: one BLAS/OpenMP thread per process (what `launch/run` gives each rank on this
    /// machine) and the frozen products on `gemm` — never the library `tinh` would pick for the
    /// thread count, which differs between a lone process and a rank (OpenBLAS at 2 threads,
    /// oneDNN at 1) and would make 1 rank and N ranks sum in different orders.
    static func sameArithmetic(_ gemm: FrozenGEMM) -> [String: String] {
        ["TINH_F32_GEMM": gemm.rawValue, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"]
    }

    /// Open MPI's all-reduce pinned to recursive doubling, blocking and non-blocking: with 2ᵏ ranks
    /// rank r adds its partner r ⊕ 1's values, then r ⊕ 2's, …, so every rank computes the pairwise
    /// tree ((c₀ + c₁) + (c₂ + c₃)) whatever the message size (by default Open MPI switches to ring
    /// or Rabenseifner algorithms by size, which sum each chunk in another order).
    static let recursiveDoubling = ["OMPI_MCA_coll_tuned_use_dynamic_rules": "1", "OMPI_MCA_coll_tuned_allreduce_algorithm": "3",
                                    "OMPI_MCA_coll_libnbc_iallreduce_algorithm": "4"]

    /// Extracts the JSON document from output that may carry MPI's own lines around it.
    static func jsonObject(in output: String) -> Data? {
        guard let start = output.firstIndex(of: "{"), let end = output.lastIndex(of: "}") else { return nil }
        return Data(output[start...end].utf8)
    }
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
