import Foundation

/// A checkpoint whose files passed verification: marker present, state readable, every checksum right.
public struct VerifiedCheckpoint {
    public let directory: URL
    public let state: CheckpointState
    public let trainerState: Data
    let adapter: SafeTensorsFile
    let optimizer: SafeTensorsFile
    /// Present when the adapters had extra state (listed in state.json's checksums).
    let extra: SafeTensorsFile?

    /// The MODEL spec the trainer recorded as "model" in its state, if it did.
    public var modelSpec: String? {
        let object = try? JSONSerialization.jsonObject(with: trainerState) as? [String: Any]
        return object?["model"] as? String
    }
}

extension Checkpoints {
    /// Reads and verifies the checkpoint at `url` (a checkpoint directory, a run directory, or its
    /// `checkpoints/`). A checkpoint that fails verification is an error naming the file and the
    /// reason, and offering the previous complete checkpoint.
    public static func read(_ url: URL) throws -> VerifiedCheckpoint {
        let directory = try resolve(url)
        do {
            return try verify(directory)
        } catch let error as TinhError {
            throw withAlternative(error, failed: directory)
        }
    }

    /// A checkpoint of a run named by the user: "step-00000100", "step-100", "100", or a path.
    public static func named(_ name: String, run: URL) -> URL {
        if name.contains("/") { return URL(fileURLWithPath: name, isDirectory: true) }
        let digits = name.hasPrefix("step-") ? String(name.dropFirst(5)) : name
        let directory = Int(digits).map { directoryName(step: $0) } ?? name
        return checkpointsDirectory(run: run).appendingPathComponent(directory, isDirectory: true)
    }

    /// The checkpoint directory `url` stands for.
    public static func resolve(_ url: URL) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent(stateFile).path) || fm.fileExists(atPath: url.appendingPathComponent(marker).path) {
            return url
        }
        for directory in [checkpointsDirectory(run: url), url] {
            let latest = directory.appendingPathComponent(latestFile)
            guard fm.fileExists(atPath: latest.path) else { continue }
            let text: String
            do { text = try String(contentsOf: latest, encoding: .utf8) } catch {
                throw TinhError.badFile(path: latest.path, reason: "cannot read: \(error.localizedDescription)")
            }
            let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
                throw withAlternative(.badFile(path: latest.path, reason: "does not name a checkpoint directory ('\(name)')"), failed: nil, in: directory)
            }
            let target = directory.appendingPathComponent(name, isDirectory: true)
            guard fm.fileExists(atPath: target.path) else {
                throw withAlternative(.badFile(path: target.path, reason: "named by \(latest.path) but missing"), failed: target, in: directory)
            }
            return target
        }
        if fm.fileExists(atPath: checkpointsDirectory(run: url).path) {
            throw withAlternative(.badFile(path: checkpointsDirectory(run: url).path, reason: "no '\(latestFile)' file"),
                                  failed: nil, in: checkpointsDirectory(run: url))
        }
        throw TinhError.badFile(path: url.path, reason: "not a checkpoint directory (no \(stateFile)) or a run directory (no checkpoints/\(latestFile))")
    }

    static func verify(_ directory: URL) throws -> VerifiedCheckpoint {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.appendingPathComponent(marker).path) else {
            throw TinhError.badFile(path: directory.path, reason: "incomplete checkpoint (no \(marker) marker)")
        }
        let statePath = directory.appendingPathComponent(stateFile).path
        let stateData: Data
        do { stateData = try Data(contentsOf: URL(fileURLWithPath: statePath)) } catch {
            throw TinhError.badFile(path: statePath, reason: "cannot read: \(error.localizedDescription)")
        }
        let (state, trainerState) = try CheckpointStateFile.decode(stateData, path: statePath)
        guard state.format == CheckpointState.formatName else {
            throw TinhError.badFile(path: statePath, reason: "format '\(state.format)' is not \(CheckpointState.formatName)")
        }
        guard state.version <= CheckpointState.currentVersion else {
            throw TinhError.unsupported("checkpoint format version \(state.version) in \(statePath); this Tinh reads up to \(CheckpointState.currentVersion)")
        }
        guard Checksum.hex(Checksum.fnv1a64(trainerState)) == state.trainerStateFNV1a64 else {
            throw TinhError.badFile(path: statePath, reason: "checksum mismatch in trainer_state (the file was changed or damaged)")
        }
        func open(_ name: String) throws -> SafeTensorsFile {
            let path = directory.appendingPathComponent(name).path
            guard let check = state.files[name] else {
                throw TinhError.badFile(path: statePath, reason: "lists no checksum for \(name)")
            }
            let file = try MappedFile(path: path)
            guard file.count == check.bytes else {
                throw TinhError.badFile(path: path, reason: "has \(file.count) bytes, \(stateFile) recorded \(check.bytes) (truncated or damaged)")
            }
            let sum = Checksum.hex(Checksum.fnv1a64(file.bytes))
            guard sum == check.fnv1a64 else {
                throw TinhError.badFile(path: path, reason: "checksum mismatch (FNV-1a \(sum), \(stateFile) recorded \(check.fnv1a64)): the file is damaged")
            }
            return try SafeTensorsFile(file: file)
        }
        return VerifiedCheckpoint(directory: directory, state: state, trainerState: trainerState,
                                  adapter: try open(adapterFile), optimizer: try open(optimizerFile),
                                  extra: state.files[extraFile] == nil ? nil : try open(extraFile))
    }

    /// Complete checkpoints in a checkpoints directory (those with the marker), oldest first.
    public static func complete(in directory: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            let url = directory.appendingPathComponent(name, isDirectory: true)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(marker).path) else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// `error` plus the newest checkpoint older than `failed` that verifies, for the user to pass instead.
    static func withAlternative(_ error: TinhError, failed: URL?, in directory: URL? = nil) -> TinhError {
        let parent = directory ?? failed?.deletingLastPathComponent()
        let failedStep = failed.flatMap { Int($0.lastPathComponent.dropFirst(5)) } ?? Int.max
        let candidates = parent.map(complete(in:)) ?? []
        let previous = candidates.reversed().first { c in
            c.step < failedStep && c.url.standardizedFileURL != failed?.standardizedFileURL && (try? verify(c.url)) != nil
        }
        let hint = previous.map { "; the previous complete checkpoint is \($0.url.path): pass it instead (tinh train ... --resume-from \($0.url.path))" }
            ?? "; there is no earlier complete checkpoint to fall back to"
        switch error {
        case .badFile(let path, let reason): return .badFile(path: path, reason: reason + hint)
        case .unsupported(let m): return .unsupported(m + hint)
        case .invalidInput(let m): return .invalidInput(m + hint)
        default: return error
        }
    }
}
