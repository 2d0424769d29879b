import Foundation
import Tinh

/// JSONL training data (text, prompt/completion, chat messages), then the chat template and the
/// tokenizer over the first chat record, as training does (only the first: encoding is the slow part).
let tokenizer = try! Tokenizer.tiny()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    guard let result = try? JSONLReader.read(data: bytes, path: "fuzz.jsonl", skipBadLines: true) else { return 0 }
    if let r = result.records.first, case .chat(let messages) = r.record {
        _ = tokenizer.encodeChat(messages, template: .smolLM2)
    }
    return 0
}
