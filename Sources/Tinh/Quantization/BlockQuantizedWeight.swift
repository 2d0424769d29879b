import Foundation

/// W [out, in] kept in a block-quantized format and decoded into the model's shared
/// `DequantizationScratch` whenever its values are needed (right before each GEMM, forward and
/// backward), so the base stays resident at 4–8 bits per weight while compute stays fp32.
/// The bytes are immutable: owned, or borrowed from a model file's mapping (GGUF blocks kept as is).
public final class BlockQuantizedWeight: FrozenWeight {
    public enum Format: String, Sendable {
        case nf4, q8_0, q4_0, q4_1

        public var precision: BasePrecision {
            switch self {
            case .nf4: return .nf4
            case .q8_0: return .q8
            case .q4_0, .q4_1: return .q4
            }
        }

        /// Elements per block: a row of W must hold whole blocks.
        public var blockElements: Int { self == .nf4 ? NF4.blockSize : 32 }

        var ggmlType: GGMLType? {
            switch self {
            case .nf4: return nil
            case .q8_0: return .q8_0
            case .q4_0: return .q4_0
            case .q4_1: return .q4_1
            }
        }

        public init?(ggml type: GGMLType) {
            switch type {
            case .q8_0: self = .q8_0
            case .q4_0: self = .q4_0
            case .q4_1: self = .q4_1
            default: return nil
            }
        }

        public func byteCount(elements n: Int) -> Int {
            if self == .nf4 { return NF4.byteCount(elements: n) }
            let layout = ggmlType!.blockLayout!
            return n / layout.elements * layout.bytes
        }
    }

    public let format: Format
    public let outFeatures: Int
    public let inFeatures: Int
    public let bytes: UnsafeRawPointer
    public let byteCount: Int
    private let owner: AnyObject?
    /// Where the values are decoded; the model gives all its weights one (`share`).
    public private(set) var scratch: DequantizationScratch

    public var precision: BasePrecision { format.precision }
    public var storageBytes: Int { byteCount }
    public var formatName: String { format.rawValue.uppercased() }

    /// Quantizes a Float32 W [out, in] (nf4, q8_0 or q4_0; q4_1 is only ever kept as it came).
    public convenience init(quantizing w: UnsafePointer<Float>, out: Int, in inFeatures: Int, format: Format, name: String = "weight") throws {
        try Self.checkRows(inFeatures, format, name)
        let n = out * inFeatures
        let size = format.byteCount(elements: n)
        let raw = Self.allocate(size)
        switch format {
        case .nf4: NF4.quantize(w, count: n, into: raw)
        case .q8_0: GGMLQuantize.q8_0(w, count: n, into: raw)
        case .q4_0: GGMLQuantize.q4_0(w, count: n, into: raw)
        case .q4_1: throw TinhError.unsupported("quantizing to Q4_1 (\(name)); Tinh keeps Q4_1 tensors as the file has them and quantizes others to Q4_0")
        }
        self.init(format: format, out: out, in: inFeatures, bytes: UnsafeRawPointer(raw), byteCount: size, owner: nil)
    }

    public convenience init(quantizing tensor: Tensor, format: Format, name: String = "weight") throws {
        guard tensor.rank == 2 else { throw TinhError.invalidInput("\(name): a quantized weight must be 2-D, got \(tensor.shape)") }
        try self.init(quantizing: tensor.data, out: tensor.shape[0], in: tensor.shape[1], format: format, name: name)
    }

    /// Blocks as a GGUF file stores them: borrowed (kept alive through `owner`) when `owner` is
    /// given, else copied.
    public convenience init(blocks: UnsafeRawBufferPointer, format: Format, out: Int, in inFeatures: Int,
                            borrowingFrom owner: AnyObject?, name: String = "weight") throws {
        try Self.checkRows(inFeatures, format, name)
        let size = format.byteCount(elements: out * inFeatures)
        guard blocks.count == size, let base = blocks.baseAddress else {
            throw TinhError.invalidInput("\(name): \(blocks.count) bytes of \(format.rawValue) for [\(out), \(inFeatures)], expected \(size)")
        }
        if let owner {
            self.init(format: format, out: out, in: inFeatures, bytes: base, byteCount: size, owner: owner)
        } else {
            let raw = Self.allocate(size)
            raw.copyMemory(from: base, byteCount: size)
            self.init(format: format, out: out, in: inFeatures, bytes: UnsafeRawPointer(raw), byteCount: size, owner: nil)
        }
    }

    private init(format: Format, out: Int, in inFeatures: Int, bytes: UnsafeRawPointer, byteCount: Int, owner: AnyObject?) {
        self.format = format
        outFeatures = out
        self.inFeatures = inFeatures
        self.bytes = bytes
        self.byteCount = byteCount
        self.owner = owner
        scratch = DequantizationScratch()
    }

    deinit {
        if owner == nil { free(UnsafeMutableRawPointer(mutating: bytes)) }
    }

    private static func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(size, 1)) == 0, let raw else { fatalError("out of memory allocating \(size) bytes of quantized weights") }
        return raw
    }

    static func checkRows(_ inFeatures: Int, _ format: Format, _ name: String) throws {
        guard inFeatures > 0, inFeatures % format.blockElements == 0 else {
            throw TinhError.unsupported("\(name): \(format.rawValue) needs rows of whole \(format.blockElements)-element blocks, "
                + "but the row length is \(inFeatures); use another --base-precision (f32 always works)")
        }
    }

    /// Decodes into the model's scratch from now on (one buffer for all its quantized weights).
    public func share(_ scratch: DequantizationScratch) {
        scratch.reserve(count)
        self.scratch = scratch
    }

    /// Decodes every value into `dst` [out·in].
    func decode(into dst: UnsafeMutablePointer<Float>) {
        let n = count
        switch format {
        case .nf4: NF4.dequantize(bytes, count: n, into: dst)
        case .q8_0: Dequantize.q8_0(bytes, dst, n)
        case .q4_0: Dequantize.q4_0(bytes, dst, n)
        case .q4_1: Dequantize.q4_1(bytes, dst, n)
        }
    }

    public func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(scratch.floats(of: self))
    }
}

/// Turning model tensors into frozen weights of a given precision.
public enum FrozenWeights {
    /// `tensor` [out, in] (Float32) in `precision`: f32 keeps the tensor itself; nf4 quantizes to
    /// NF4, q8 to Q8_0, q4 to Q4_0.
    public static func make(_ tensor: Tensor, precision: BasePrecision, name: String) throws -> FrozenWeight {
        guard precision != .f32 else { return F32Weight(tensor) }
        if precision == .bf16 { return try BF16Weight(rounding: tensor, name: name) }
        if precision == .int8 { return try Int8Weight(quantizing: tensor, name: name) }
        guard tensor.rank == 2 else { throw TinhError.invalidInput("\(name): a frozen weight must be 2-D, got \(tensor.shape)") }
        return try make(tensor.data, out: tensor.shape[0], in: tensor.shape[1], precision: precision, name: name)
    }

    /// The same from values the caller keeps (a quantized result does not reference them; f32 copies).
    public static func make(_ w: UnsafePointer<Float>, out: Int, in inFeatures: Int, precision: BasePrecision, name: String) throws -> FrozenWeight {
        switch precision {
        case .f32:
            let t = Tensor(shape: [out, inFeatures])
            t.data.update(from: w, count: t.count)
            return F32Weight(t)
        case .nf4: return try BlockQuantizedWeight(quantizing: w, out: out, in: inFeatures, format: .nf4, name: name)
        case .q8: return try BlockQuantizedWeight(quantizing: w, out: out, in: inFeatures, format: .q8_0, name: name)
        case .q4: return try BlockQuantizedWeight(quantizing: w, out: out, in: inFeatures, format: .q4_0, name: name)
        case .bf16:
            let t = Tensor(shape: [out, inFeatures])
            t.data.update(from: w, count: t.count)
            return try BF16Weight(rounding: t, name: name)
        case .int8: return try Int8Weight(quantizing: w, out: out, in: inFeatures, name: name)
        }
    }

    /// The blocks a GGUF tensor came in, when `precision` keeps them as they are: Q8_0 for q8,
    /// Q4_0 and Q4_1 for q4. Nil when the tensor must be decoded and quantized instead.
    public static func keepsAsStored(_ type: GGMLType, precision: BasePrecision) -> BlockQuantizedWeight.Format? {
        guard let format = BlockQuantizedWeight.Format(ggml: type), format.precision == precision else { return nil }
        return format
    }
}

extension FrozenWeights {
    /// Moves the projection weights (`BasePrecision.appliesTo`) out of `weights` into frozen
    /// weights of `precision`, one tensor at a time; f32 leaves everything as it is.
    public static func quantizeProjections(_ weights: inout [String: Tensor], precision: BasePrecision) throws -> [String: FrozenWeight] {
        guard precision != .f32 else { return [:] }
        var frozen: [String: FrozenWeight] = [:]
        for name in weights.keys.sorted() where BasePrecision.appliesTo(name) {
            frozen[name] = try make(weights[name]!, precision: precision, name: name)
            weights[name] = nil  // the Float32 copy goes as soon as it is quantized
        }
        return frozen
    }
}
