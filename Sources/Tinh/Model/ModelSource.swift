import Foundation

/// A model ready to run: weights in a `DecoderModel`, its tokenizer, and where it came from.
public final class LoadedModel {
    /// What the user asked for ("smollm2", "tiny:3", a path).
    public let spec: String
    /// The file or directory read, nil for `tiny`.
    public let path: String?
    public let model: DecoderModel
    public let tokenizer: Tokenizer
    /// The GGUF file when the model came from one (for `inspect`).
    public let gguf: GGUFFile?
    public let loadSeconds: Double
    /// The cache file the base weights are mapped from when they are shared by the node's ranks.
    public internal(set) var sharedBasePath: String?

    init(spec: String, path: String?, model: DecoderModel, tokenizer: Tokenizer, gguf: GGUFFile?, loadSeconds: Double) {
        self.spec = spec
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.gguf = gguf
        self.loadSeconds = loadSeconds
    }

    public var config: DecoderConfig { model.config }

    /// Bytes of the base weights as the model holds them: Float32 tensors (a tied head counted
    /// once) and the frozen weights' own storage.
    public var baseBytes: Int {
        model.baseTensors.reduce(0) { $0 + $1.count } * MemoryLayout<Float>.stride
            + model.linears.filter { !($0.weight is F32Weight) }.reduce(0) { $0 + $1.weight.storageBytes }
    }
}

/// Turns a MODEL argument into a loaded model. MODEL is a `.gguf` file, a Hugging Face directory
/// (config.json + *.safetensors + tokenizer.json), `smollm2` (the cached download) or `tiny[:seed]`.
public enum ModelSource {
    /// `basePrecision` is how the blocks' projection weights are held (`BasePrecision`); the
    /// embedding and norms stay Float32. With `sharedBase`, the weights come from the base's file
    /// in the cache, in that precision, mapped read-only and shared by every process on the node
    /// (`SharedBaseCache`; written if missing); a directory of F32 tensors with an f32 base needs
    /// no cache (its files are mapped and shared as they are).
    /// `gemm` is the library of the frozen Float32 products (`FrozenGEMM.preferred` for a run).
    public static func load(_ spec: String, basePrecision: BasePrecision = .f32, sharedBase: Bool = false,
                            gemm: FrozenGEMM = .openblas) throws -> LoadedModel {
        let start = monotonicSeconds()
        if let seed = try TinyLlama.seed(fromSpec: spec) {
            var weights = TinyLlama.weights(config: TinyLlama.config, seed: seed)
            let frozen = try FrozenWeights.quantizeProjections(&weights, precision: basePrecision)
            let model = try DecoderModel(config: TinyLlama.config, weights: weights, frozen: frozen, gemm: gemm)
            return LoadedModel(spec: spec, path: nil, model: model, tokenizer: try Tokenizer.tiny(vocabularySize: model.config.vocabSize),
                               gguf: nil, loadSeconds: monotonicSeconds() - start)
        }
        let path = try resolvePath(spec)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TinhError.badFile(path: path, reason: "no such file or directory (MODEL is a .gguf file, a Hugging Face directory, smollm2 or tiny[:seed])")
        }
        if isDirectory.boolValue {
            let source = SharedBaseCache.Source.huggingFace(directory: path)
            let share = try sharedBase && SharedBaseCache.isNeeded(source, precision: basePrecision)
            var sharedPath: String?
            let (config, weights, frozen): (DecoderConfig, [String: Tensor], [String: FrozenWeight])
            if share {
                let configPath = URL(fileURLWithPath: path).appendingPathComponent("config.json").path
                let cached = try SharedBaseCache.load(source, precision: basePrecision)
                (config, weights, frozen) = (try HFConfig.read(path: configPath).decoderConfig(source: configPath), cached.weights, cached.frozen)
                sharedPath = cached.path
            } else {
                (config, weights, frozen) = try HFDirectoryLoader.load(directory: path, basePrecision: basePrecision)
            }
            let tokenizerFile = URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerFile.path) else {
                throw TinhError.badFile(path: path, reason: "no tokenizer.json in the model directory")
            }
            let tokenizer = try Tokenizer.load(tokenizerJSON: tokenizerFile)
            let model = try DecoderModel(config: config, weights: weights, frozen: frozen, gemm: gemm)
            try checkVocabulary(tokenizer, config, path)
            let loaded = LoadedModel(spec: spec, path: path, model: model, tokenizer: tokenizer, gguf: nil, loadSeconds: monotonicSeconds() - start)
            loaded.sharedBasePath = sharedPath
            return loaded
        }
        let gguf = try GGUFFile(path: path)
        var sharedPath: String?
        let (config, weights, frozen): (DecoderConfig, [String: Tensor], [String: FrozenWeight])
        if sharedBase {
            let cached = try SharedBaseCache.load(.gguf(gguf), precision: basePrecision)
            (config, weights, frozen) = (try GGUFModelLoader.config(gguf), cached.weights, cached.frozen)
            sharedPath = cached.path
        } else {
            (config, weights, frozen) = try GGUFModelLoader.load(gguf, basePrecision: basePrecision)
        }
        let tokenizer = try Tokenizer(gguf: gguf)
        let model = try DecoderModel(config: config, weights: weights, frozen: frozen, gemm: gemm)
        try checkVocabulary(tokenizer, config, path)
        let loaded = LoadedModel(spec: spec, path: path, model: model, tokenizer: tokenizer, gguf: gguf, loadSeconds: monotonicSeconds() - start)
        loaded.sharedBasePath = sharedPath
        if sharedPath == nil, frozen.isEmpty {
            // Dequantized weights are copies: keep resident only the pages of tensors borrowed from the file.
            gguf.file.releasePages(keeping: weights.values.compactMap { gguf.file.range(of: $0.data, bytes: $0.count * 4) })
        }
        return loaded
    }

    /// Writes the shared base of `spec` in `basePrecision` into the cache unless it is there
    /// (nothing to do for tiny, or for a directory of F32 tensors with an f32 base).
    public static func prepareSharedBase(_ spec: String, basePrecision: BasePrecision = .f32) throws {
        guard try TinyLlama.seed(fromSpec: spec) == nil else { return }
        let path = try resolvePath(spec)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        let source: SharedBaseCache.Source = isDirectory.boolValue ? .huggingFace(directory: path) : .gguf(try GGUFFile(path: path))
        guard try SharedBaseCache.isNeeded(source, precision: basePrecision) else { return }
        try SharedBaseCache.prepare(source, precision: basePrecision)
    }

    /// The model's config and family spec alone, without its weights (a GGUF's header, a config.json):
    /// what a caller needs before loading, such as the default adapter targets.
    public static func config(_ spec: String) throws -> DecoderConfig {
        if try TinyLlama.seed(fromSpec: spec) != nil { return TinyLlama.config }
        let path = try resolvePath(spec)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TinhError.badFile(path: path, reason: "no such file or directory")
        }
        if isDir.boolValue {
            let configPath = URL(fileURLWithPath: path).appendingPathComponent("config.json").path
            return try HFConfig.read(path: configPath).decoderConfig(source: configPath)
        }
        return try GGUFModelLoader.config(GGUFFile(path: path))
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
    static func checkVocabulary(_ tokenizer: Tokenizer, _ config: DecoderConfig, _ path: String) throws {
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw TinhError.badFile(path: path, reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocabulary is \(config.vocabSize)")
        }
    }
}
