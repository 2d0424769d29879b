import Foundation
import Tinh

/// JSONL training data (text, prompt/completion, chat messages), then the chat template over
/// every chat record, as training does.
let tokenizer = try! Tokenizer.tiny()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    guard let result = try? JSONLReader.read(data: bytes, path: "fuzz.jsonl", skipBadLines: true) else { return 0 }
    for r in result.records.prefix(8) {
        if case .chat(let messages) = r.record { _ = tokenizer.encodeChat(messages, template: .smolLM2) }
    }
    return 0
}
