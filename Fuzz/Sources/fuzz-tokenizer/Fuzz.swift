import Foundation
import Tinh

/// Encode/decode round trip: for any valid UTF-8 text whose bytes all have a token (SmolLM2's
/// vocabulary lacks a few control bytes, which become the unknown token as in Hugging Face),
/// decode(encode(text)) gives back the same bytes, with and without special-token parsing. Uses SmolLM2's tokenizer when the model is
/// cached (TINH_FUZZ_TOKENIZER=tiny forces the tiny one), else the tiny model's.
let tokenizer: Tokenizer = {
    let cached = NSString(string: "~/.cache/tinh/models/SmolLM2-135M-Instruct.Q4_1.gguf").expandingTildeInPath
    if ProcessInfo.processInfo.environment["TINH_FUZZ_TOKENIZER"] != "tiny", FileManager.default.fileExists(atPath: cached),
       let t = try? Tokenizer(gguf: GGUFFile(path: cached)) {
        return t
    }
    return try! Tokenizer.tiny()
}()

let untokenizable = Set(tokenizer.bytesWithoutToken)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard !bytes.contains(where: untokenizable.contains) else { return 0 }
    guard let text = String(validating: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    for parseSpecial in [false, true] {
        let ids = tokenizer.encode(text, parseSpecial: parseSpecial)
        let back = tokenizer.decode(ids)
        if Array(back.utf8) != Array(text.utf8) {
            fatalError("round trip (parseSpecial \(parseSpecial)) changed \(Array(text.utf8)) into \(Array(back.utf8)) via \(ids)")
        }
    }
    return 0
}
