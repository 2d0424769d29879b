import Foundation
#if canImport(Glibc)
import Glibc
private let posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let posixWrite = Darwin.write
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a part:
/// write to a temporary file in the same directory, fsync it, rename over the target, fsync the directory.
public enum AtomicFile {
    /// A POSIX file descriptor open for writing, with a write-everything loop.
    public struct Sink {
        let fd: Int32
        let path: String
        let budget: WriteBudget?

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            if let budget, budget.consume(left) {
                throw TinhError.badFile(path: path, reason: "write failed: No space left on device (injected by TINH_TEST_FAIL_WRITE_AFTER_BYTES)")
            }
            while left > 0 {
                let n = posixWrite(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TinhError.badFile(path: path, reason: "write failed: \(MappedFile.errnoText())")
                }
                p += n
                left -= n
            }
        }

        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    /// Writes `data` to `path` atomically; the bytes count against `budget`, if any.
    public static func write(_ data: Data, to path: String, budget: WriteBudget? = nil) throws {
        try write(to: path, budget: budget) { sink in try data.withUnsafeBytes { try sink.write($0) } }
    }

    public static func write(to path: String, budget: WriteBudget? = nil, _ body: (Sink) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TinhError.badFile(path: path, reason: "cannot create temporary file \(tmp): \(MappedFile.errnoText())")
        }
        var closed = false
        do {
            try body(Sink(fd: fd, path: tmp, budget: budget))
            guard fsync(fd) == 0 else { throw TinhError.badFile(path: tmp, reason: "fsync failed: \(MappedFile.errnoText())") }
            closed = true
            guard close(fd) == 0 else { throw TinhError.badFile(path: tmp, reason: "close failed: \(MappedFile.errnoText())") }
            guard rename(tmp, path) == 0 else {
                throw TinhError.badFile(path: path, reason: "cannot rename \(tmp) into place: \(MappedFile.errnoText())")
            }
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
        // Make the rename itself durable; failure here does not undo a complete write.
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

/// A run's allowance of bytes for atomic writes (`FaultPlan.failWritesAfterBytes`, from
/// TINH_TEST_FAIL_WRITE_AFTER_BYTES): once N bytes in all have gone through the writes it is
/// passed to, they fail like a full disk (ENOSPC). The run owns it and hands it to each write;
/// writes without one never fail this way.
public final class WriteBudget {
    /// Bytes still allowed (negative once spent).
    public private(set) var left: Int

    public init(bytes: Int) { left = bytes }

    /// Counts `n` bytes about to be written; true if the write must fail.
    func consume(_ n: Int) -> Bool {
        left -= n
        return left < 0
    }
}
