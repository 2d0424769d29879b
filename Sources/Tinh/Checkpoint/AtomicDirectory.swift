import Foundation

/// Crash-safe directory creation: a checkpoint is built in a temporary sibling, every file is
/// flushed, a marker is written last, and the directory is renamed into place, then the parent is
/// flushed. A crash at any moment leaves no directory under the final name, or a complete one.
/// Single files use `AtomicFile`.
public enum AtomicDirectory {
    /// Builds a directory with `fill` in a temporary sibling, writes `marker` last, and renames
    /// the whole directory to `url`, which must not exist yet.
    /// The marker counts against `budget`, if any.
    public static func create(at url: URL, marker: String = "COMPLETE", budget: WriteBudget? = nil, fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        try createDirectory(parent)
        let temp = parent.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        if fm.fileExists(atPath: temp.path) { try fm.removeItem(at: temp) }
        try createDirectory(temp)
        do {
            try fill(temp)
            for name in try fm.contentsOfDirectory(atPath: temp.path) {
                try syncPath(temp.appendingPathComponent(name))
            }
            try AtomicFile.write(Data("complete\n".utf8), to: temp.appendingPathComponent(marker).path, budget: budget)
            try syncDirectory(temp)
            if fm.fileExists(atPath: url.path) {
                throw TinhError.invalidInput("\(url.path) exists already; refusing to replace it")
            }
            try rename(temp, to: url)
            try syncDirectory(parent)
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
    }

    static func createDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw TinhError.badFile(path: url.path, reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    static func rename(_ from: URL, to: URL) throws {
        guard Foundation.rename(from.path, to.path) == 0 else { throw ioError("cannot rename \(from.lastPathComponent) to", to) }
    }

    static func syncPath(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", url) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("cannot flush", url) }
    }

    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open directory", url) }
        defer { close(fd) }
        _ = fsync(fd)  // some file systems refuse fsync on directories; the rename is still atomic
    }

    static func ioError(_ what: String, _ url: URL) -> TinhError {
        .badFile(path: url.path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
}
