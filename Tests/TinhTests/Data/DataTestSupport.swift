import Foundation
@testable import Tinh

/// Fixtures for the Data tests.
enum DataFixtures {
    /// Ids 0 `<s>` and 1 `</s>` (control), then byte b at id b + 2; no merges, no chat template.
    static func plainTokenizer(addsBos: Bool = false, eos: Bool = true) throws -> Tokenizer {
        let tokens = ["<s>", "</s>"] + (0..<256).map { String(ByteLevel.byteToScalar[$0]) }
        var types = [Int32](repeating: TokenType.normal.rawValue, count: tokens.count)
        types[0] = TokenType.control.rawValue
        types[1] = TokenType.control.rawValue
        return try Tokenizer(tokens: tokens, merges: [], tokenTypes: types,
                             specialIds: SpecialTokenIds(bos: 0, eos: eos ? 1 : nil), addsBosToken: addsBos)
    }

    /// Ids of `text` under `plainTokenizer`.
    static func bytes(_ text: String) -> [Int32] { text.utf8.map { Int32($0) + 2 } }

    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-data-\(UUID().uuidString).jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func example(_ ids: [Int32], _ mask: [Bool]? = nil) -> TokenizedExample {
        TokenizedExample(ids: ids, lossMask: mask ?? [Bool](repeating: true, count: ids.count))
    }
}
