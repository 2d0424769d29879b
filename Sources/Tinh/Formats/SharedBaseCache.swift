import Foundation

/// One frozen base per node, in any base precision. The node's first rank decodes the model once
/// (a GGUF, quantised or F32 with q/k rows still permuted; or a Hugging Face directory in bf16/f16,
/// or in f32 when the base is quantized) into a safetensors file in the cache: Hugging Face names,
/// attn_q/attn_k un-permuted, the projections (and an int8 or bf16 LM head) already in the base's
/// storage (`FrozenWeightCodec`). Every rank maps that file read-only, so the ranks on a node share
/// its page-cache pages instead of each holding a private copy: the base counts once in the node's
/// memory (PSS per rank ≈ base / ranks). The file is keyed by a fingerprint of the source and of
/// everything that shapes the stored values (precision, int8 levels and blocks, whether the CPU
/// computes in bf16), and written atomically, so a crash leaves no half file and a changed source
/// or another kind of CPU gets a file of its own.
public enum SharedBaseCache {
    /// When to use it: `auto` when more than one rank shares this node.
    public enum Policy: String, Codable, CaseIterable, Sendable {
        case auto, on, off
        public func applies(localSize: Int) -> Bool { self == .on || (self == .auto && localSize > 1) }
    }

    /// Where the base comes from.
    public enum Source {
        case gguf(GGUFFile)
        case huggingFace(directory: String)

        var path: String {
            switch self {
            case .gguf(let g): return g.path
            case .huggingFace(let d): return d
            }
        }
    }

    /// The f32 file's format name, unchanged since the first version (its files stay valid).
    static let format = "tinh-base-f32-v1"

    static func format(_ precision: BasePrecision) -> String {
        precision == .f32 ? format : "tinh-base-\(precision.rawValue)-v1"
    }

    /// What, beyond the source, decides the stored values: the int8 code range (127 with VNNI, 63
    /// without) and block width; for bf16 whether the LM head is stored in bf16 (where the CPU
    /// computes in bf16).
    static func parameters(_ precision: BasePrecision) -> String {
        switch precision {
        case .int8: return "levels \(Int8GEMM.weightLevels), blocks ≤ \(Int8Matrix.maxBlockSize)"
        case .bf16: return "arithmetic \(BF16Weight.Arithmetic.native.rawValue)"
        default: return ""
        }
    }

    /// Size, the whole header (metadata and tensor table) and a word every 4 KiB of the tensor data.
    public static func fingerprint(_ g: GGUFFile, precision: BasePrecision = .f32) -> String {
        var f = Fingerprint()
        f.combine(format(precision))
        if precision != .f32 { f.combine(parameters(precision)) }
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

    /// A directory: config.json, and each weight file's name, size, modification time, header and
    /// a word every 16 MiB (reading a word per page of a 16 GB checkpoint would read all of it).
    public static func fingerprint(directory: String, precision: BasePrecision) throws -> String {
        var f = Fingerprint()
        f.combine(format(precision))
        f.combine(parameters(precision))
        let dir = URL(fileURLWithPath: directory, isDirectory: true)
        let config = dir.appendingPathComponent("config.json")
        guard let text = try? Data(contentsOf: config) else { throw TinhError.badFile(path: config.path, reason: "cannot read config.json") }
        for byte in text { f.combine(byte: byte) }
        for path in try HFDirectoryLoader.weightFiles(dir).0 {
            let file = try MappedFile(path: path)
            f.combine((path as NSString).lastPathComponent)
            f.combine(UInt64(file.count))
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            f.combine(UInt64(bitPattern: Int64((modified * 1e6).rounded())))
            let bytes = file.bytes
            let header = bytes.count >= 8 ? min(bytes.count, 8 + Int(bytes.loadUnaligned(as: UInt64.self).littleEndian & 0xFFFF_FFFF)) : bytes.count
            for i in 0..<header { f.combine(byte: bytes[i]) }
            var i = header
            while i + 8 <= bytes.count {
                f.combine(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 16 << 20
            }
        }
        return f.hex
    }

    static func fingerprint(_ source: Source, precision: BasePrecision) throws -> String {
        switch source {
        case .gguf(let g): return fingerprint(g, precision: precision)
        case .huggingFace(let d): return try fingerprint(directory: d, precision: precision)
        }
    }

    /// The cached f32 file for `g` (it may not exist yet).
    public static func path(for g: GGUFFile, cache: URL = ModelCache.directory) -> String {
        path(stem: URL(fileURLWithPath: g.path).deletingPathExtension().lastPathComponent, fingerprint: fingerprint(g), precision: .f32, cache: cache)
    }

    /// The cached file of `source` in `precision` (it may not exist yet).
    public static func path(for source: Source, precision: BasePrecision, cache: URL = ModelCache.directory) throws -> String {
        try file(for: source, precision: precision, cache: cache).path
    }

    /// The file's path and the fingerprint it is named by (computed once: a GGUF's reads a word of
    /// every page of the file).
    static func file(for source: Source, precision: BasePrecision, cache: URL) throws -> (path: String, fingerprint: String) {
        let stem: String
        switch source {
        case .gguf(let g): stem = URL(fileURLWithPath: g.path).deletingPathExtension().lastPathComponent
        case .huggingFace(let d): stem = URL(fileURLWithPath: d, isDirectory: true).standardizedFileURL.lastPathComponent
        }
        let fp = try fingerprint(source, precision: precision)
        return (path(stem: stem, fingerprint: fp, precision: precision, cache: cache), fp)
    }

    static func path(stem: String, fingerprint: String, precision: BasePrecision, cache: URL) -> String {
        cache.appendingPathComponent("base-\(precision.rawValue)", isDirectory: true)
            .appendingPathComponent("\(stem)-\(fingerprint).safetensors").path
    }

    /// Whether ranks need the cache to share `source`: a directory of F32 tensors with an f32 base
    /// is shared already (every rank maps the same files and borrows the tensors).
    public static func isNeeded(_ source: Source, precision: BasePrecision) throws -> Bool {
        guard case .huggingFace(let d) = source, precision == .f32 else { return true }
        for path in try HFDirectoryLoader.weightFiles(URL(fileURLWithPath: d, isDirectory: true)).0 {
            if try SafeTensorsFile(path: path).tensors.contains(where: { $0.dtype != .F32 }) { return true }
        }
        return false
    }

    /// Writes the f32 file of `g` unless a complete one is there. Returns its path.
    @discardableResult
    public static func prepare(_ g: GGUFFile, cache: URL = ModelCache.directory) throws -> String {
        try prepare(.gguf(g), precision: .f32, cache: cache)
    }

    /// Writes the file of `source` in `precision` unless a complete one is there. Returns its path.
    /// The model is decoded once, one tensor at a time as a private load does (a quantized base never
    /// holds the whole model in Float32), then written with everything already in its storage.
    @discardableResult
    public static func prepare(_ source: Source, precision: BasePrecision, cache: URL = ModelCache.directory) throws -> String {
        let (target, fp) = try file(for: source, precision: precision, cache: cache)
        try write(source, precision: precision, to: target, fingerprint: fp)
        return target
    }

    /// Writes the file unless it exists.
    static func write(_ source: Source, precision: BasePrecision, to target: String, fingerprint fp: String) throws {
        if FileManager.default.fileExists(atPath: target) { return }
        let (_, weights, frozen) = try decode(source, precision: precision)
        var entries: [SafeTensorsWriter.Entry] = []
        var metadata = ["format": format(precision), "source": source.path, "fingerprint": fp, "precision": precision.rawValue]
        for (name, t) in weights { entries.append(SafeTensorsWriter.Entry(name: name, tensor: t)) }
        var all = frozen
        let head = weights["lm_head.weight"] ?? weights["model.embed_tokens.weight"]
        if let head, let made = try DecoderModel.headWeight(head, projections: Array(frozen.values)) {
            all[DecoderModel.headName] = made
            entries.removeAll { $0.name == DecoderModel.headName }
        }
        for (name, w) in all {
            let (more, meta) = try FrozenWeightCodec.entries(w, name: name)
            entries += more
            metadata.merge(meta) { a, _ in a }
        }
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw TinhError.badFile(path: target, reason: "cannot create the shared-base cache directory: \(error.localizedDescription)")
        }
        try withExtendedLifetime((weights, all)) {
            try SafeTensorsWriter.write(entries: entries, metadata: metadata, to: target)
        }
    }

    /// The model as a private load gives it.
    static func decode(_ source: Source, precision: BasePrecision)
        throws -> (config: DecoderConfig, weights: [String: Tensor], frozen: [String: FrozenWeight]) {
        switch source {
        case .gguf(let g): return try GGUFModelLoader.load(g, basePrecision: precision)
        case .huggingFace(let d): return try HFDirectoryLoader.load(directory: d, basePrecision: precision)
        }
    }

    /// The weights of `g` as read-only views of its cached f32 file (converted first if missing).
    public static func weights(_ g: GGUFFile, cache: URL = ModelCache.directory) throws -> [String: Tensor] {
        try load(.gguf(g), precision: .f32, cache: cache).weights
    }

    /// The base of `source` in `precision`, every tensor and frozen weight a read-only view of the
    /// cached file at `path` (written first if missing). `frozen` may hold the LM head ("lm_head.weight").
    public static func load(_ source: Source, precision: BasePrecision, cache: URL = ModelCache.directory)
        throws -> (weights: [String: Tensor], frozen: [String: FrozenWeight], path: String) {
        let (target, fp) = try Self.file(for: source, precision: precision, cache: cache)
        try write(source, precision: precision, to: target, fingerprint: fp)
        let file = try SafeTensorsFile(path: target)
        guard file.metadata["format"] == format(precision), file.metadata["fingerprint"] == fp else {
            throw TinhError.badFile(path: file.path, reason: "not the shared \(precision) base of \(source.path) (delete it and run again)")
        }
        var weights: [String: Tensor] = [:]
        var frozen: [String: FrozenWeight] = [:]
        for info in file.tensors where !info.name.hasSuffix(FrozenWeightCodec.scalesSuffix) {
            if let w = try FrozenWeightCodec.weight(info.name, in: file) {
                frozen[info.name] = w
            } else {
                weights[info.name] = try file.tensor(info.name, borrow: true)
            }
        }
        // An f32 base keeps its projections as plain tensors (the model wraps them); other bases
        // store every projection in their own storage.
        if precision != .f32, let plain = weights.keys.sorted().first(where: BasePrecision.appliesTo) {
            throw TinhError.badFile(path: file.path, reason: "tensor '\(plain)' is F32 in a \(precision) base file (delete it and run again)")
        }
        return (weights, frozen, target)
    }
}
