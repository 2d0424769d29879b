import Foundation

/// One frozen base per node: a GGUF (quantised, or F32 whose q/k rows still need un-permuting) is
/// decoded once into a Float32 safetensors file
/// in the cache (Hugging Face names and layout, attn_q/attn_k already un-permuted), and every rank
/// maps that file read-only. The ranks on a node then share its page-cache pages instead of each
/// holding a private dequantised copy: the base counts once in the node's memory (PSS per rank
/// ≈ base / ranks). The file is keyed by a fingerprint of the GGUF and written atomically, so a
/// crash leaves no half file and a changed GGUF gets a new one.
public enum SharedBaseCache {
    /// When to use it: `auto` when more than one rank shares this node.
    public enum Policy: String, Codable, CaseIterable, Sendable {
        case auto, on, off
        public func applies(localSize: Int) -> Bool { self == .on || (self == .auto && localSize > 1) }
    }

    static let format = "tinh-base-f32-v1"

    /// Size, the whole header (metadata and tensor table) and a word every 4 KiB of the tensor data.
    public static func fingerprint(_ g: GGUFFile) -> String {
        var f = Fingerprint()
        f.combine(format)
        f.combine(UInt64(g.file.count))
        let bytes = g.file.bytes
        for i in 0..<min(g.dataOffset, bytes.count) { f.combine(byte: bytes[i]) }
        var i = g.dataOffset
        while i + 8 <= bytes.count {
            f.combine(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 4096
        }
        return f.hex
    }

    /// The cached f32 file for `g` (it may not exist yet).
    public static func path(for g: GGUFFile, cache: URL = ModelCache.directory) -> String {
        let stem = URL(fileURLWithPath: g.path).deletingPathExtension().lastPathComponent
        return cache.appendingPathComponent("base-f32", isDirectory: true)
            .appendingPathComponent("\(stem)-\(fingerprint(g)).safetensors").path
    }

    /// Writes the f32 file of `g` unless a complete one is there. Returns its path.
    @discardableResult
    public static func prepare(_ g: GGUFFile, cache: URL = ModelCache.directory) throws -> String {
        let target = path(for: g, cache: cache)
        if FileManager.default.fileExists(atPath: target) { return target }
        let (_, weights) = try GGUFModelLoader.load(g)
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw TinhError.badFile(path: target, reason: "cannot create the shared-base cache directory: \(error.localizedDescription)")
        }
        try SafeTensorsWriter.write(weights, metadata: ["format": format, "source": g.path, "fingerprint": fingerprint(g)], to: target)
        return target
    }

    /// The weights of `g` as read-only views of its cached f32 file (converted first if missing).
    public static func weights(_ g: GGUFFile, cache: URL = ModelCache.directory) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(path: try prepare(g, cache: cache))
        guard file.metadata["format"] == format, file.metadata["fingerprint"] == fingerprint(g) else {
            throw TinhError.badFile(path: file.path, reason: "not the shared f32 base of \(g.path) (delete it and run again)")
        }
        var out: [String: Tensor] = [:]
        for info in file.tensors { out[info.name] = try file.tensor(info.name, borrow: true) }
        return out
    }
}
