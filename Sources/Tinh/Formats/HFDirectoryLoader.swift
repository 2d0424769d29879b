import Foundation

/// Loads a Hugging Face model directory: `config.json` plus one or more `*.safetensors`
/// (listed by `model.safetensors.index.json` when present). F32 weights are borrowed from the
/// memory mapping; F16/BF16 are converted to owned Float32.
public enum HFDirectoryLoader {
    public static func load(directory: String) throws -> (DecoderConfig, [String: Tensor]) {
        let (config, weights, _) = try load(directory: directory, basePrecision: .f32)
        return (config, weights)
    }

    /// The model with its projection weights in `basePrecision` (`frozen`; empty for f32). Each
    /// projection is converted and quantized as it is read, so a bf16 checkpoint never exists
    /// whole in Float32 (an 8B model would need 32 GB).
    public static func load(directory: String, basePrecision: BasePrecision)
        throws -> (config: DecoderConfig, weights: [String: Tensor], frozen: [String: FrozenWeight]) {
        let dir = URL(fileURLWithPath: directory, isDirectory: true)
        let configPath = dir.appendingPathComponent("config.json").path
        let config = try HFConfig.read(path: configPath).decoderConfig(source: configPath)

        // The tensor tables first: a wrong or missing tensor is reported before anything is decoded.
        var shapes: [String: [Int]] = [:]
        var origin: [String: String] = [:]
        var tables: [(SafeTensorsFile, [String])] = []
        let (files, expectedFile) = try weightFiles(dir)
        for f in files {
            let st = try SafeTensorsFile(path: f)
            var names: [String] = []
            for info in st.tensors {
                let name = info.name
                if name.hasSuffix(".rotary_emb.inv_freq") { continue }  // old checkpoints store RoPE tables
                if name == "lm_head.weight", config.tieWordEmbeddings { continue }  // transformers ties it anyway
                if let want = expectedFile[name], want != URL(fileURLWithPath: f).lastPathComponent {
                    throw TinhError.badFile(path: f, reason: "holds '\(name)', which the index assigns to \(want)")
                }
                if let other = origin[name] {
                    throw TinhError.badFile(path: f, reason: "tensor '\(name)' is also in \(other)")
                }
                origin[name] = f
                shapes[name] = info.shape
                names.append(name)
            }
            tables.append((st, names))
        }
        if let missing = expectedFile.keys.sorted().first(where: { origin[$0] == nil && !($0 == "lm_head.weight" && config.tieWordEmbeddings) }) {
            throw TinhError.badFile(path: directory, reason: "the index lists '\(missing)' but no file holds it")
        }
        try DecoderWeightNames.validate(shapes: shapes, config: config, source: directory)

        var weights: [String: Tensor] = [:]
        var frozen: [String: FrozenWeight] = [:]
        for (st, names) in tables {
            for name in names {
                let t = try st.tensor(name, borrow: true)
                if basePrecision != .f32, BasePrecision.appliesTo(name) {
                    frozen[name] = try FrozenWeights.make(t, precision: basePrecision, name: name)
                } else {
                    weights[name] = t
                    if st.file.range(of: t.data, bytes: t.count * 4) != nil { continue }  // borrowed: its pages are the tensor
                }
                // Converted (bf16 → f32) or quantized into memory of its own: the file's pages of it
                // serve nothing more, and would keep a 16 GB checkpoint resident while it is read.
                if let range = st.info(name)?.dataOffsets {
                    st.file.releasePages(in: (st.dataOffset + range.lowerBound)..<(st.dataOffset + range.upperBound))
                }
            }
        }
        return (config, weights, frozen)
    }

    /// The safetensors files to read, and (from the index, if any) which file each tensor lives in.
    static func weightFiles(_ dir: URL) throws -> ([String], [String: String]) {
        let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: indexURL.path) {
            struct Index: Decodable {
                let weightMap: [String: String]
                enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
            }
            let index: Index
            do {
                index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: indexURL))
            } catch {
                throw TinhError.badFile(path: indexURL.path, reason: "not a safetensors index: \(SafeTensorsFile.describe(error))")
            }
            for file in Set(index.weightMap.values) where file.contains("/") || file.hasPrefix(".") {
                throw TinhError.badFile(path: indexURL.path, reason: "weight file '\(file)' must be a plain file name in the directory")
            }
            let files = Set(index.weightMap.values).sorted().map { dir.appendingPathComponent($0).path }
            return (files, index.weightMap)
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw TinhError.badFile(path: dir.path, reason: "cannot list directory: \(error.localizedDescription)")
        }
        let files = names.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }.sorted()
        guard !files.isEmpty else {
            throw TinhError.badFile(path: dir.path, reason: "no *.safetensors files next to config.json")
        }
        return (files.map { dir.appendingPathComponent($0).path }, [:])
    }
}
