import ArgumentParser
import Foundation
import Tinh

/// `tinh train --config FILE.yaml`: the file's keys become flags placed before the command line's
/// (which win), then ArgumentParser parses the whole as usual. A key that is not a flag is reported
/// with the file's name and line.
enum TrainArguments {
    static func expandAndRun(_ commandLine: [String]) {
        var entries: [ConfigFile.Entry] = []
        var configPath: String?
        if let i = commandLine.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) {
            if commandLine[i].hasPrefix("--config=") { configPath = String(commandLine[i].dropFirst("--config=".count)) }
            else if i + 1 < commandLine.count { configPath = commandLine[i + 1] }
        }
        if let configPath {
            do { entries = try ConfigFile.entries(path: configPath) } catch { fail("\(error)") }
            if let nested = entries.first(where: { $0.flag == "--config" }) {
                fail("\(configPath):\(nested.line): a config file cannot name another config file")
            }
        }
        // The flags `train` runs with, after the config file was merged (saved as OUT/config.yaml).
        let resolved = ConfigFile.merge(entries, commandLine: commandLine)
        do {
            var command = try TinhCommand.parseAsRoot(["train"] + resolved)
            guard let train = command as? TrainCommand else { return try command.run() }
            try train.run(flags: resolved)
        } catch {
            if let configPath, let located = locate(TinhCommand.message(for: error), entries, configPath) { fail(located, code: 64) }
            TinhCommand.exit(withError: error)
        }
    }

    /// A parse error about a flag the file set, as "FILE:LINE: ...".
    static func locate(_ message: String, _ entries: [ConfigFile.Entry], _ path: String) -> String? {
        // ArgumentParser quotes the flag; a method flag of another method is "--x applies to …" (`MethodFlagValues`).
        for e in entries where message.contains("'\(e.flag)'") || message.contains("'\(e.flag) ") || message.contains("'\(e.flag)=")
            || message.contains("\(e.flag) applies to --method") {
            if message.contains("Unknown option") {
                return "\(path):\(e.line): unknown key '\(e.key)': tinh train has no \(e.flag) (see tinh train --help)"
            }
            return "\(path):\(e.line): key '\(e.key)': \(message)"
        }
        return nil
    }
}
