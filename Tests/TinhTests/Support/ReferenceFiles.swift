import Foundation

/// `../shared/reference` (figures from reference implementations): `$TINH_REFERENCE_DIR`, else
/// the first ancestor of this file that has a `shared/reference` directory (CI clones the repo
/// with `shared/` beside it).
enum ReferenceFiles {
    static func directory(filePath: String = #filePath) -> URL? {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["TINH_REFERENCE_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        var dir = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent("shared/reference", isDirectory: true)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: candidate.path, isDirectory: &isDir), isDir.boolValue { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
