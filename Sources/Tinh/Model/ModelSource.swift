import Foundation

/// A model ready to run: weights in a `LlamaModel`, its tokenizer, and where it came from.
public final class LoadedModel {
    /// What the user asked for ("smollm2", "tiny:3", a path).
    public let spec: String
    /// The file or directory read, nil for `tiny`.
    public let path: String?
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    /// The GGUF file when the model came from one (for `inspect`).
    public let gguf: GGUFFile?
    public let loadSeconds: Double

    init(spec: String, path: String?, model: LlamaModel, tokenizer: Tokenizer, gguf: GGUFFile?, loadSeconds: Double) {
        self.spec = spec
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.gguf = gguf
        self.loadSeconds = loadSeconds
    }

    public var config: LlamaConfig { model.config }
}

/// Turns a MODEL argument into a loaded model. MODEL is a `.gguf` file, a Hugging Face directory
/// (config.json + *.safetensors + tokenizer.json), `smollm2` (the cached download) or `tiny[:seed]`.
public enum ModelSource {
    public static func load(_ spec: String) throws -> LoadedModel {
        let start = monotonicSeconds()
        if let seed = try TinyLlama.seed(fromSpec: spec) {
            let model = try TinyLlama.model(seed: seed)
            return LoadedModel(spec: spec, path: nil, model: model, tokenizer: try Tokenizer.tiny(vocabularySize: model.config.vocabSize),
                               gguf: nil, loadSeconds: monotonicSeconds() - start)
        }
        let path = try resolvePath(spec)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TinhError.badFile(path: path, reason: "no such file or directory (MODEL is a .gguf file, a Hugging Face directory, smollm2 or tiny[:seed])")
        }
        if isDirectory.boolValue {
            let (config, weights) = try HFDirectoryLoader.load(directory: path)
            let tokenizerFile = URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerFile.path) else {
                throw TinhError.badFile(path: path, reason: "no tokenizer.json in the model directory")
            }
            let tokenizer = try Tokenizer.load(tokenizerJSON: tokenizerFile)
            let model = try LlamaModel(config: config, weights: weights)
            try checkVocabulary(tokenizer, config, path)
            return LoadedModel(spec: spec, path: path, model: model, tokenizer: tokenizer, gguf: nil, loadSeconds: monotonicSeconds() - start)
        }
        let gguf = try GGUFFile(path: path)
        let (config, weights) = try LlamaGGUFLoader.load(gguf)
        let tokenizer = try Tokenizer(gguf: gguf)
        let model = try LlamaModel(config: config, weights: weights)
        try checkVocabulary(tokenizer, config, path)
        // Dequantized weights are copies: keep resident only the pages of tensors borrowed from the file.
        gguf.file.releasePages(keeping: weights.values.compactMap { gguf.file.range(of: $0.data, bytes: $0.count * 4) })
        return LoadedModel(spec: spec, path: path, model: model, tokenizer: tokenizer, gguf: gguf, loadSeconds: monotonicSeconds() - start)
    }

    /// The file or directory behind a spec; `smollm2` must have been fetched.
    public static func resolvePath(_ spec: String) throws -> String {
        if spec == "smollm2" {
            guard ModelCache.isSmolLM2Cached else {
                throw TinhError.invalidInput("SmolLM2 is not in the cache (\(ModelCache.smolLM2Path)); run `tinh fetch smollm2` first")
            }
            return ModelCache.smolLM2Path
        }
        return (spec as NSString).expandingTildeInPath
    }

    /// A tokenizer that can emit ids the embedding table does not have would crash nothing (the
    /// model checks ids) but would make every such prompt an error; catch the mismatch at load.
    static func checkVocabulary(_ tokenizer: Tokenizer, _ config: LlamaConfig, _ path: String) throws {
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw TinhError.badFile(path: path, reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocabulary is \(config.vocabSize)")
        }
    }
}
