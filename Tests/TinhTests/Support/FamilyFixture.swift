import Foundation
@testable import Tinh

/// The tiny random-weight models of `Fixtures/families/<family>/` (built by
/// `Fixtures/make_family_fixtures.py`). Their weight files are committed gzipped (`*.gz`), so the
/// first use unpacks every family into a temporary directory named after the fixtures' contents
/// (later runs reuse it; a changed fixture gets a new one); other files are copied as they are, so
/// the directory does not depend on the clone it came from.
enum FamilyFixture {
    /// The families the fixture script builds (llama-sharded is llama's weights in several shards).
    static let families = ["llama", "llama3-scaled", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"]

    /// The unpacked directory of `family`: an HF directory (config.json, safetensors, tokenizer files),
    /// plus reference.json and, for llama.cpp architectures, model.gguf.
    static func directory(_ family: String) throws -> URL {
        let root = try unpacked.get()
        let dir = root.appendingPathComponent(family, isDirectory: true)
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw ReferenceFiles.FixtureMissing(path: ReferenceFiles.fixtures.appendingPathComponent("families/\(family)").path)
        }
        return dir
    }

    /// `reference.json` of `family`: transformers' logits, token ids and rendered chats.
    static func reference(_ family: String) throws -> [String: Any] {
        let url = try directory(family).appendingPathComponent("reference.json")
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw ReferenceFiles.FixtureMissing(path: url.path)
        }
        return object
    }

    private static let unpacked = Result<URL, Error> { try unpackAll() }

    private static func unpackAll() throws -> URL {
        let fm = FileManager.default
        let source = ReferenceFiles.fixtures.appendingPathComponent("families", isDirectory: true)
        let families = try fm.contentsOfDirectory(atPath: source.path).sorted()
        var hash = Fingerprint()
        for family in families {
            for name in (try? fm.contentsOfDirectory(atPath: source.appendingPathComponent(family).path))?.sorted() ?? [] {
                hash.combine(family + "/" + name)
                for byte in fm.contents(atPath: source.appendingPathComponent(family).appendingPathComponent(name).path) ?? Data() { hash.combine(byte: byte) }
            }
        }
        let done = fm.temporaryDirectory.appendingPathComponent("tinh-families-\(hash.hex)", isDirectory: true)
        if fm.fileExists(atPath: done.path) { return done }
        // Unpacked beside it, then renamed into place: a run killed halfway leaves no half directory.
        let target = fm.temporaryDirectory.appendingPathComponent("tinh-families-\(UUID().uuidString)", isDirectory: true)
        for family in families {
            let from = source.appendingPathComponent(family, isDirectory: true)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: from.path, isDirectory: &isDir), isDir.boolValue else { continue }
            let to = target.appendingPathComponent(family, isDirectory: true)
            try fm.createDirectory(at: to, withIntermediateDirectories: true)
            for name in try fm.contentsOfDirectory(atPath: from.path) {
                let file = from.appendingPathComponent(name)
                if name.hasSuffix(".gz") {
                    try gunzip(file, to: to.appendingPathComponent(String(name.dropLast(3))))
                } else {
                    try fm.copyItem(at: file, to: to.appendingPathComponent(name))
                }
            }
        }
        do { try fm.moveItem(at: target, to: done) } catch {
            try? fm.removeItem(at: target)   // another process got there first
            guard fm.fileExists(atPath: done.path) else { throw error }
        }
        return done
    }

    /// A temporary copy of the fixture directory `dir` with its `*.gz` files unpacked (for small
    /// fixtures such as adapters; the caller removes it).
    static func unpackedCopy(of dir: URL) throws -> URL {
        let fm = FileManager.default
        let target = fm.temporaryDirectory.appendingPathComponent("tinh-fixture-\(UUID().uuidString)", isDirectory: true)
        try fm.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: dir.path) {
            let file = dir.appendingPathComponent(name)
            if name.hasSuffix(".gz") { try gunzip(file, to: target.appendingPathComponent(String(name.dropLast(3)))) }
            else { try fm.copyItem(at: file, to: target.appendingPathComponent(name)) }
        }
        return target
    }

    private static func gunzip(_ file: URL, to out: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -dc \"$1\" > \"$2\"", "sh", file.path, out.path]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ReferenceFiles.FixtureMissing(path: file.path + " (gzip -dc failed with status \(p.terminationStatus))")
        }
    }
}
