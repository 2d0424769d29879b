import Foundation

/// A Linear's frozen W [out, in] in some storage. The Linear only asks for the two products its
/// passes need; code that must read W itself (DoRA's row norms, merging, the model fingerprint)
/// goes through `withFloats`, which hands out Float32 values however W is stored.
///
/// Storage types: `F32Weight` (Float32, borrowed from a mapping or owned) and
/// `BlockQuantizedWeight` (nf4, q8, q4: dequantized into a shared scratch buffer for each use).
/// The default products dequantize through `withFloats` and run on the `FrozenGEMM` library the
/// Linear passes in; a storage with a GEMM of its own (`BF16Weight`) overrides `multiplyTransposed`
/// and `multiply` and ignores that library.
public protocol FrozenWeight: AnyObject {
    var outFeatures: Int { get }
    var inFeatures: Int { get }
    var precision: BasePrecision { get }
    /// Bytes this weight holds for its values (codes, scales; a borrowed mapping counts too), not
    /// counting the shared dequantization scratch.
    var storageBytes: Int { get }
    /// The storage format's name, e.g. "F32", "NF4", "Q4_1".
    var formatName: String { get }

    /// y [rows, out] = x [rows, in] · Wᵀ, Float32 products on `gemm`.
    func multiplyTransposed(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, gemm: FrozenGEMM)
    /// dx [rows, in] = dy [rows, out] · W, or += with `accumulate`, Float32 products on `gemm`.
    func multiply(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, accumulate: Bool, gemm: FrozenGEMM)
    /// Calls `body` with W as Float32 [out, in], row-major. The pointer is valid only inside `body`
    /// and may be the model's shared scratch: do not call another weight's `withFloats` inside.
    func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R
}

extension FrozenWeight {
    public var shape: [Int] { [outFeatures, inFeatures] }
    public var count: Int { outFeatures * inFeatures }

    public func multiplyTransposed(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, gemm: FrozenGEMM) {
        let (n, k) = (outFeatures, inFeatures)
        withFloats { w in gemm.multiplyTransposed(x, w, y, rows: rows, n: n, k: k) }
    }

    public func multiply(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, accumulate: Bool, gemm: FrozenGEMM) {
        let (n, k) = (outFeatures, inFeatures)
        withFloats { w in gemm.multiply(dy, w, dx, rows: rows, n: n, k: k, accumulate: accumulate) }
    }

    /// An owned Float32 copy of W (what merging and Delta-LoRA's private weight start from).
    public func dequantized() -> Tensor {
        let t = Tensor(shape: shape)
        withFloats { t.data.update(from: $0, count: t.count) }
        return t
    }
}

/// W as Float32: the tensor the model file gave (often a read-only mapping shared by every rank
/// on the node) or an owned copy.
public final class F32Weight: FrozenWeight {
    public let tensor: Tensor

    public init(_ tensor: Tensor) {
        precondition(tensor.rank == 2, "a frozen weight must be 2-D, got \(tensor.shape)")
        self.tensor = tensor
    }

    public var outFeatures: Int { tensor.shape[0] }
    public var inFeatures: Int { tensor.shape[1] }
    public var precision: BasePrecision { .f32 }
    public var storageBytes: Int { tensor.count * MemoryLayout<Float>.stride }
    public var formatName: String { "F32" }

    public func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(tensor.data)
    }
}

/// The one buffer every quantized weight of a model dequantizes into, sized for the largest.
/// It remembers whose values it holds, so a weight used twice in a row (its forward GEMM, then
/// DoRA's norm) is decoded once. Not thread-safe, like the model that owns it.
public final class DequantizationScratch {
    private(set) var capacity = 0
    private var storage: UnsafeMutablePointer<Float>?
    /// The weight whose values are in the buffer now.
    private weak var holder: AnyObject?
    /// How many times a weight was decoded (tests count it).
    public private(set) var decodes = 0

    public init() {}

    deinit { storage.map { free($0) } }

    /// Bytes of the buffer.
    public var bytes: Int { capacity * MemoryLayout<Float>.stride }

    /// Grows the buffer to hold `count` floats (done up front for every weight sharing it).
    public func reserve(_ count: Int) {
        guard count > capacity else { return }
        storage.map { free($0) }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, count * MemoryLayout<Float>.stride) == 0, let raw else {
            fatalError("out of memory allocating a \(count)-float dequantization buffer")
        }
        storage = raw.bindMemory(to: Float.self, capacity: count)
        capacity = count
        holder = nil
    }

    /// `weight`'s values as Float32, decoded into the buffer unless they are there already.
    func floats(of weight: BlockQuantizedWeight) -> UnsafePointer<Float> {
        floats(of: weight, count: weight.count, decode: weight.decode(into:))
    }

    /// `weight`'s `count` values, written by `decode` unless they are in the buffer already.
    func floats(of weight: AnyObject, count: Int, decode: (UnsafeMutablePointer<Float>) -> Void) -> UnsafePointer<Float> {
        reserve(count)
        let buffer = storage!
        if holder !== weight {
            decode(buffer)
            holder = weight
            decodes += 1
        }
        return UnsafePointer(buffer)
    }
}
