import Foundation
import Testing
@testable import Tinh

@Suite struct AtomicDirectoryTests {
    func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func fileReplacesContentWhole() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("latest")
        try AtomicFile.write(Data("step-1".utf8), to: url.path)
        try AtomicFile.write(Data("step-22".utf8), to: url.path)
        #expect(try String(contentsOf: url, encoding: .utf8) == "step-22")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["latest"], "no temporary files left")
    }

    @Test func directoryAppearsOnlyWhenComplete() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("step-00000002")
        struct Injected: Error {}
        #expect(throws: Injected.self) {
            try AtomicDirectory.create(at: target) { tmp in
                try Data("half".utf8).write(to: tmp.appendingPathComponent("adapter.bin"))
                throw Injected()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "a failed write leaves nothing")
        try AtomicDirectory.create(at: target) { tmp in
            try Data("whole".utf8).write(to: tmp.appendingPathComponent("adapter.bin"))
        }
        #expect(FileManager.default.fileExists(atPath: target.appendingPathComponent("COMPLETE").path))
        #expect(throws: TinhError.self) { try AtomicDirectory.create(at: target) { _ in } }
        #expect(try String(contentsOf: target.appendingPathComponent("adapter.bin"), encoding: .utf8) == "whole")
    }

    @Test func unwritableLocationIsAClearError() {
        #expect(throws: TinhError.self) {
            try AtomicFile.write(Data("x".utf8), to: "/proc/tinh-cannot-write/latest")
        }
    }
}
