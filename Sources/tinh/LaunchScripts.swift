import Foundation
import Tinh

/// The scripts in launch/ that the CLI calls (plots), found beside the package this `tinh` was
/// built from, and the Python with matplotlib that runs them.
enum LaunchScripts {
    /// $TINH_LAUNCH_DIR, else a launch/ folder in a parent of the executable (…/.build/release/tinh)
    /// or of the working directory.
    static func directory() -> URL? {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["TINH_LAUNCH_DIR"] { return URL(fileURLWithPath: dir, isDirectory: true) }
        let executable = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        for start in [executable.deletingLastPathComponent(), URL(fileURLWithPath: fm.currentDirectoryPath, isDirectory: true)] {
            var dir = start.standardizedFileURL
            for _ in 0..<6 {
                let launch = dir.appendingPathComponent("launch", isDirectory: true)
                if fm.fileExists(atPath: launch.appendingPathComponent("plot_runs.py").path) { return launch }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    static func script(_ name: String) throws -> String {
        guard let path = directory()?.appendingPathComponent(name).path, FileManager.default.fileExists(atPath: path) else {
            throw TinhError.invalidInput("cannot find launch/\(name) (looked beside this tinh and in the working directory); "
                                         + "set TINH_LAUNCH_DIR to the repository's launch/ folder")
        }
        return path
    }

    /// A python3 that imports matplotlib: launch/python-env's (which makes a venv on first use),
    /// else the system's. Nil when there is none.
    static func python() -> String? {
        if let env = try? script("python-env"), let result = try? capture([env]), result.status == 0 {
            let path = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
            if !path.isEmpty, FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        if let result = try? capture(["python3", "-c", "import matplotlib"]), result.status == 0 { return "python3" }
        return nil
    }

    static let noPython = "plotting needs Python 3 with matplotlib: run launch/python-env (it makes a venv with pip) "
        + "or `pip install matplotlib`"

    /// Runs a plot script with the matplotlib Python; its output goes to ours.
    static func runPlot(_ name: String, _ arguments: [String], python: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, try script(name)] + arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw TinhError.invalidInput("launch/\(name) failed (exit \(process.terminationStatus))") }
    }

    static func capture(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
