import Foundation
import Tinh

/// A checkpoint's state.json: the header and the embedded trainer state span.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    _ = try? CheckpointState.decodeFile(bytes, path: "fuzz/state.json")
    return 0
}
