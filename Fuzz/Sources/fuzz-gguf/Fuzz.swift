import Tinh

/// GGUF: header, metadata, tensor table; then what Tinh does with a model file: the Llama config,
/// the tokenizer fields, and decoding (small) tensors. Any throw is fine; a trap or ASan report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let file = MappedFile(copying: UnsafeRawBufferPointer(start: data, count: size), path: "fuzz.gguf")
    guard let g = try? GGUFFile(file: file) else { return 0 }
    _ = try? LlamaGGUFLoader.config(g)
    if let tokenizer = try? Tokenizer(gguf: g) { _ = tokenizer.decode(tokenizer.encode("fuzz <|im_start|> 12")) }
    for info in g.tensors.prefix(16) where info.elementCount <= 1 << 16 {
        _ = try? g.tensor(info.name)
    }
    return 0
}
