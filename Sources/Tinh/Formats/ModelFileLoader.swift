import Foundation

/// One entry point for a Llama model on disk: a `.gguf` file or a Hugging Face directory.
/// (`smollm2` and `tiny` are resolved by the caller: `ModelCache.smolLM2Path`, the model code.)
public enum ModelFileLoader {
    public static func load(path: String) throws -> (DecoderConfig, [String: Tensor]) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TinhError.badFile(path: path, reason: "no such file or directory")
        }
        if isDir.boolValue { return try HFDirectoryLoader.load(directory: path) }
        return try GGUFModelLoader.load(path: path)
    }
}
