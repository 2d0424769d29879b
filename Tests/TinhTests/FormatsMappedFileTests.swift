import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsMappedFileTests {
    /// Released pages read back the file's bytes; the kept range is never touched; pages that
    /// only partly lie outside a kept range stay.
    @Test func releasedPagesReadBackTheFileAndKeptRangesStay() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = (0..<(8 * page + 100)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-mapped-\(UUID().uuidString)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path)
        #expect(file.bytes.elementsEqual(bytes))
        let kept = (2 * page + 10)..<(4 * page + 20)
        let released = file.releasePages(keeping: [kept])
        // Pages 0–1 (before the kept range) and 5–7 (after it; page 4 holds kept bytes) go.
        #expect(released == 5 * page)
        #expect(file.bytes.elementsEqual(bytes))
        #expect(file.range(of: file.baseAddress! + 10, bytes: 4) == 10..<14)
        #expect(file.range(of: file.baseAddress! + bytes.count - 2, bytes: 4) == nil)
    }
}
