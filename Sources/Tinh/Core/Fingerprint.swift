/// A stable 64-bit FNV-1a hash (of data, weights, configs), e.g. of a list of examples (each one's length, ids and mask, in order,
/// serialized little-endian), as 16 hex digits. Ranks compare it at start: any difference in data,
/// tokenizer, truncation, masking, split or packing changes it.
public struct Fingerprint: Equatable, Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public init(_ examples: [TokenizedExample]) {
        combine(examples)
    }

    public mutating func combine(_ examples: [TokenizedExample]) {
        combine(UInt64(examples.count))
        for example in examples {
            combine(UInt64(example.count))
            for id in example.ids { combine(UInt32(bitPattern: id)) }
            for on in example.lossMask { combine(byte: on ? 1 : 0) }
        }
    }

    public mutating func combine(byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    public mutating func combine(_ word: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { combine(byte: UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
    }

    public mutating func combine(_ word: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { combine(byte: UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
    }

    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension Fingerprint {
    public mutating func combine(_ text: String) {
        combine(UInt64(text.utf8.count))
        for b in text.utf8 { combine(byte: b) }
    }

    /// Every `stride`-th float of a buffer (bit patterns) and its length: cheap, yet any load
    /// or conversion difference in a weight matrix changes it with near certainty.
    public mutating func combine(sampling p: UnsafePointer<Float>, count: Int, stride step: Int = 61) {
        combine(UInt64(count))
        var i = 0
        while i < count { combine(p[i].bitPattern); i += step }
        if count > 0 { combine(p[count - 1].bitPattern) }
    }
}
