import Foundation

/// Figures from reference implementations that the tests compare against, kept in the repository
/// under Tests/TinhTests/Fixtures/ (each folder with the script that regenerates it), so a plain
/// clone anywhere has them.
enum ReferenceFiles {
    /// Tests/TinhTests/Fixtures/, found from this source file (which is compiled from the clone).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    /// The contents of `Fixtures/<path>`; a missing file is a clear failure, never a skip.
    static func data(_ path: String) throws -> Data {
        let url = fixtures.appendingPathComponent(path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw FixtureMissing(path: url.path)
        }
        return data
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        var path: String
        var description: String { "fixture \(path) is missing (it is part of the repository: check the clone)" }
    }
}
