import Foundation
@testable import Tinh

/// Builds small GGUF files in memory for tests, with knobs to make them lie.
struct GGUFBuilder {
    struct TensorEntry {
        var name: String
        var ne: [Int]
        var type: GGMLType
        var data: [UInt8]
        var offsetOverride: UInt64? = nil
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var alignment = 32
    var metadata: [(String, GGUFValue)] = []
    var tensors: [TensorEntry] = []
    var tensorCountOverride: UInt64? = nil
    var kvCountOverride: UInt64? = nil

    mutating func add(_ name: String, ne: [Int], type: GGMLType, data: [UInt8]) {
        tensors.append(TensorEntry(name: name, ne: ne, type: type, data: data))
    }

    mutating func addF32(_ name: String, shape: [Int], values: [Float]) {
        add(name, ne: shape.reversed(), type: .f32, data: values.flatMap(le))
    }

    func bytes() -> [UInt8] {
        var b = magic
        b += le(version)
        b += le(tensorCountOverride ?? UInt64(tensors.count))
        b += le(kvCountOverride ?? UInt64(metadata.count))
        for (k, v) in metadata {
            b += str(k)
            b += le(v.type.rawValue)
            b += value(v)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += t.data.count
            offset = (offset + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            b += str(t.name)
            b += le(UInt32(t.ne.count))
            for n in t.ne { b += le(UInt64(n)) }
            b += le(t.type.rawValue)
            b += le(t.offsetOverride ?? UInt64(off))
        }
        while b.count % alignment != 0 { b.append(0) }
        let dataStart = b.count
        for (t, off) in zip(tensors, offsets) {
            while b.count < dataStart + off { b.append(0) }
            b += t.data
        }
        return b
    }

    func value(_ v: GGUFValue) -> [UInt8] {
        switch v {
        case .uint8(let x): return [x]
        case .int8(let x): return [UInt8(bitPattern: x)]
        case .uint16(let x): return le(x)
        case .int16(let x): return le(x)
        case .uint32(let x): return le(x)
        case .int32(let x): return le(x)
        case .uint64(let x): return le(x)
        case .int64(let x): return le(x)
        case .float32(let x): return le(x.bitPattern)
        case .float64(let x): return le(x.bitPattern)
        case .bool(let x): return [x ? 1 : 0]
        case .string(let s): return str(s)
        case .array(let t, let items): return le(t.rawValue) + le(UInt64(items.count)) + items.flatMap(value)
        }
    }

    func write(_ name: String = "t.gguf") throws -> String {
        try writeTemp(bytes(), name: name)
    }
}

func le<T: FixedWidthInteger>(_ x: T) -> [UInt8] { withUnsafeBytes(of: x.littleEndian) { Array($0) } }
func le(_ x: Float) -> [UInt8] { le(x.bitPattern) }
func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }
func halfBits(_ x: Float) -> [UInt8] { le(Float16(x).bitPattern) }

/// A fresh temp directory per call; files are small and left for the OS to clean.
func tempDir() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-formats-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func writeTemp(_ bytes: [UInt8], name: String = "f.bin") throws -> String {
    let url = tempDir().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// The `reason` of a `.badFile` error (or the message of another TinhError) for `#expect` checks.
func message(_ body: () throws -> Any) -> String? {
    do { _ = try body(); return nil } catch let e as TinhError { return e.description } catch { return "\(error)" }
}

/// A deterministic generator for test data (SplitMix64).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func float(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24) }
}
