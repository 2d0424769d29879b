import Foundation

extension Checkpoints {
    /// Deletes all but the newest `keepLast` complete checkpoints, never `keeping` (what `latest`
    /// names). Each is first renamed to a hidden name, so a crash mid-delete never leaves a
    /// partial directory under a checkpoint name.
    static func prune(_ directory: URL, keepLast: Int, keeping: String) throws {
        guard keepLast >= 1 else { return }
        let all = complete(in: directory)
        for old in all.dropLast(keepLast) where old.url.lastPathComponent != keeping {
            let hidden = directory.appendingPathComponent(".\(old.url.lastPathComponent).deleting-\(getpid())")
            try AtomicDirectory.rename(old.url, to: hidden)
            try? FileManager.default.removeItem(at: hidden)
        }
    }

    /// Removes hidden leftovers (".NAME.tmp-PID", ".NAME.deleting-PID", ".NAME.replaced-PID") of
    /// processes that no longer run: what a killed writer leaves behind.
    static func removeStaleTemporaries(in directory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".") {
            guard let pid = ownerPID(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// The writer's process id in a temporary name, if it is one of ours.
    static func ownerPID(_ name: String) -> pid_t? {
        for tag in [".tmp-", ".deleting-", ".replaced-"] {
            guard let r = name.range(of: tag, options: .backwards) else { continue }
            let digits = name[r.upperBound...].prefix { $0.isNumber }
            return pid_t(digits)
        }
        return nil
    }
}
