import Foundation

/// A hash of the bytes of the model's file(s), which ranks compare at start: nodes whose copies
/// of "the same" path differ (a partial download, another revision) fail with a diff instead of
/// training different models. FNV-1a 64 of a .gguf file, or of every regular file of a Hugging
/// Face directory by name; an in-process model (tiny) is named by its spec.
public enum ModelFileHash {
    public static func of(_ loaded: LoadedModel) throws -> String {
        guard let path = loaded.path else { return "in-process \(loaded.spec)" }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "missing \(path)" }
        if !isDirectory.boolValue { return try hash(file: path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        var parts: [String] = []
        for name in names where !name.hasPrefix(".") {
            let full = (path as NSString).appendingPathComponent(name)
            var sub: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue else { continue }
            parts.append("\(name) \(try hash(file: full))")
        }
        return parts.joined(separator: ", ")
    }

    /// "FNV-1a HEX of N bytes".
    public static func hash(file path: String) throws -> String {
        let file = try MappedFile(path: path)
        return "FNV-1a \(Checksum.hex(Checksum.fnv1a64(file.bytes))) of \(file.count) bytes"
    }
}
