import Foundation

/// Loads a Hugging Face model directory: `config.json` plus one or more `*.safetensors`
/// (listed by `model.safetensors.index.json` when present). F32 weights are borrowed from the
/// memory mapping; F16/BF16 are converted to owned Float32.
public enum HFDirectoryLoader {
    public static func load(directory: String) throws -> (DecoderConfig, [String: Tensor]) {
        let dir = URL(fileURLWithPath: directory, isDirectory: true)
        let configPath = dir.appendingPathComponent("config.json").path
        let config = try HFConfig.read(path: configPath).decoderConfig(source: configPath)

        var weights: [String: Tensor] = [:]
        var origin: [String: String] = [:]
        let (files, expectedFile) = try weightFiles(dir)
        for f in files {
            let st = try SafeTensorsFile(path: f)
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
                weights[name] = try st.tensor(name, borrow: true)
                origin[name] = f
            }
        }
        if let missing = expectedFile.keys.sorted().first(where: { origin[$0] == nil && !($0 == "lm_head.weight" && config.tieWordEmbeddings) }) {
            throw TinhError.badFile(path: directory, reason: "the index lists '\(missing)' but no file holds it")
        }
        try DecoderWeightNames.validate(weights, config: config, source: directory)
        return (config, weights)
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
