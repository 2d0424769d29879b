import Foundation
import Tinh

/// A PEFT adapter_config.json, then its translation to Tinh's settings for the tiny model.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    guard let config = try? PEFTAdapterConfig.decode(bytes, path: "fuzz/adapter_config.json") else { return 0 }
    _ = try? PEFTAdapter.adapterConfig(config, model: TinyLlama.config, path: "fuzz/adapter_config.json")
    return 0
}
