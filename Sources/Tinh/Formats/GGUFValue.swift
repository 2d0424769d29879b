/// The type tag of a GGUF metadata value (u32 in the file).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Fewest bytes one value of this type occupies; used to cap declared array counts.
    var minimumSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8  // a string is at least its u64 length
        case .array: return 12  // element type u32 + count u64
        }
    }
}

/// A GGUF metadata value. Accessors convert between numeric widths when the value fits.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// Element type is kept so an empty array still says what it holds.
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Any integer type whose value fits in Int.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// Float or integer types, as Double.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return int.map(Double.init)
        }
    }

    public var float: Float? { double.map(Float.init) }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var array: [GGUFValue]? {
        if case .array(_, let v) = self { return v }
        return nil
    }

    public var stringArray: [String]? {
        guard case .array(.string, let v) = self else { return nil }
        return v.compactMap(\.string)
    }

    /// Integer arrays whose every element fits in Int32.
    public var int32Array: [Int32]? {
        guard let v = array else { return nil }
        var out: [Int32] = []
        out.reserveCapacity(v.count)
        for e in v {
            guard let i = e.int, let x = Int32(exactly: i) else { return nil }
            out.append(x)
        }
        return out
    }

    public var intArray: [Int]? {
        guard let v = array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(v.count)
        for e in v {
            guard let i = e.int else { return nil }
            out.append(i)
        }
        return out
    }

    public var floatArray: [Float]? {
        guard let v = array else { return nil }
        var out: [Float] = []
        out.reserveCapacity(v.count)
        for e in v {
            guard let f = e.float else { return nil }
            out.append(f)
        }
        return out
    }

    /// A short human-readable form for `tinh inspect` (long arrays are summarized).
    public var summary: String {
        switch self {
        case .string(let s): return s.count > 80 ? "\"\(s.prefix(77))...\"" : "\"\(s)\""
        case .bool(let b): return String(b)
        case .float32(let f): return String(f)
        case .float64(let d): return String(d)
        case .array(let t, let v):
            let head = v.prefix(4).map(\.summary).joined(separator: ", ")
            return v.count <= 4 ? "[\(head)]" : "[\(t)] x\(v.count) [\(head), ...]"
        default: return int.map(String.init) ?? "?"
        }
    }
}
