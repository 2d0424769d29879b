import Tinh

/// safetensors: header JSON, entry checks (tiling, sizes), then reading every (small) tensor as F32.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let file = MappedFile(copying: UnsafeRawBufferPointer(start: data, count: size), path: "fuzz.safetensors")
    guard let s = try? SafeTensorsFile(file: file) else { return 0 }
    for info in s.tensors.prefix(16) where info.elementCount <= 1 << 16 {
        _ = try? s.tensor(info.name)
    }
    return 0
}
