import Foundation

/// Reading and writing PEFT `adapter_config.json` files, whichever PEFT type they describe, with
/// the same messages for a file that cannot be read or is not that kind of config.
enum PEFTConfigJSON {
    static func read<T: Decodable>(_ type: T.Type, path: String, kind: String) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TinhError.badFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode(type, data, path: path, kind: kind)
    }

    /// `path` names the bytes in messages.
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, path: String, kind: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw TinhError.badFile(path: path, reason: "not a PEFT \(kind) config: \(SafeTensorsFile.describe(error))")
        }
    }

    /// Pretty, key-sorted JSON with a final newline, as PEFT's own files look.
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value) + Data("\n".utf8)
    }
}
