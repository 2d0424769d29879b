import Foundation

/// Where Tinh keeps downloaded models: `$TINH_CACHE`, else `~/.cache/tinh`.
public enum ModelCache {
    public static let smolLM2FileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let smolLM2Size = 98_362_432
    public static let smolLM2SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    public static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["TINH_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/tinh", isDirectory: true)
    }

    public static func modelsDirectory(in cache: URL = directory) -> URL {
        cache.appendingPathComponent("models", isDirectory: true)
    }

    public static func smolLM2Path(in cache: URL) -> String {
        modelsDirectory(in: cache).appendingPathComponent(smolLM2FileName).path
    }

    public static var smolLM2Path: String { smolLM2Path(in: directory) }

    /// Cheap check: the file exists with the expected size (`Fetch` verifies the hash).
    public static var isSmolLM2Cached: Bool { isSmolLM2Cached(in: directory) }

    public static func isSmolLM2Cached(in cache: URL) -> Bool {
        fileSize(smolLM2Path(in: cache)) == smolLM2Size
    }

    /// Size of a regular file (following symlinks), or nil.
    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }
}
