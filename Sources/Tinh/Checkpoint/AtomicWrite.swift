import Foundation

/// Crash-safe file and directory writes: data goes to a temporary name, is flushed to disk, and
/// is renamed into place, then the parent directory is flushed. A crash at any moment leaves
/// either the old content or the new, never a mix.
public enum AtomicWrite {
    /// Writes `data` to `url` atomically.
    public static func file(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try writeAndSync(data, to: temp)
        try rename(temp, to: url)
        try syncDirectory(dir)
    }

    /// Builds a directory with `fill` in a temporary sibling, writes `marker` last, and renames
    /// the whole directory to `url`, which must not exist yet.
    public static func directory(at url: URL, marker: String = "COMPLETE", fill: (URL) throws -> Void) throws {
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
            try writeAndSync(Data("complete\n".utf8), to: temp.appendingPathComponent(marker))
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

    /// Writes and fsyncs one file (not atomic by itself).
    public static func writeAndSync(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("cannot create", url) }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("cannot write", url)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw ioError("cannot flush", url) }
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
