import Foundation

/// `../shared/reference` (figures from reference implementations): `$TINH_REFERENCE_DIR`, else the
/// first ancestor of this file that has a `shared/reference` directory (CI clones the repo with
/// `shared/` beside it), else the same search from the checkout this one was cloned from, when
/// that is a local directory (a scratch clone such as `git clone -q . $(mktemp -d)`).
enum ReferenceFiles {
    static func directory(filePath: String = #filePath) -> URL? {
        if let dir = ProcessInfo.processInfo.environment["TINH_REFERENCE_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        let here = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        if let found = search(from: here) { return found }
        guard let origin = localOrigin(of: here) else { return nil }
        return search(from: origin)
    }

    /// `start` or its nearest ancestor's `shared/reference` directory.
    static func search(from start: URL) -> URL? {
        var dir = start
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent("shared/reference", isDirectory: true)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), isDir.boolValue { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The `origin` remote of the git checkout holding `dir`, when it is a directory on this machine.
    static func localOrigin(of dir: URL) -> URL? {
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", dir.path, "config", "--get", "remote.origin.url"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        guard (try? git.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        git.waitUntilExit()
        guard git.terminationStatus == 0,
              let url = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), url.hasPrefix("/")
        else { return nil }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url, isDirectory: &isDir), isDir.boolValue else { return nil }
        return URL(fileURLWithPath: url, isDirectory: true)
    }
}
