import Foundation

/// W [out, in] held once as bf16 (half of Float32's bytes), on any CPU. Where the CPU has bf16
/// arithmetic (AVX512-BF16, AMX), forward y = x·Wᵀ and backward dx = dy·W run on oneDNN's bf16 GEMM
/// (`BF16GEMM`): x or dy is rounded to bf16 into a scratch the model shares, the products
/// accumulate in f32, and W reaches oneDNN transposed through its memory layout, so neither
/// direction copies it. Elsewhere W is widened (exactly) into the model's shared f32 scratch right
/// before each product, which then runs in f32 like a quantized base's: the memory is halved, not
/// the time. Code that reads W itself (`withFloats`: DoRA's row norms, merging) sees the bf16 values
/// widened, i.e. exactly the W the GEMMs use.
public final class BF16Weight: FrozenWeight {
    /// How the products run: bf16 inputs on oneDNN, or W widened to f32.
    public enum Arithmetic: String, Sendable {
        case bf16, f32
        /// bf16 where the CPU has it.
        public static var native: Arithmetic { BF16GEMM.isSupported ? .bf16 : .f32 }
    }

    public let arithmetic: Arithmetic
    public let matrix: BF16Matrix
    /// Where x or dy is rounded to bf16; the model gives all its bf16 weights one (`share`).
    public private(set) var inputScratch = BF16Scratch()
    /// Where `withFloats` widens W; nil: a temporary buffer per call (the LM head, read only by the
    /// fingerprint and merging, would otherwise grow the model's shared buffer to its 28 M floats).
    public private(set) var floatScratch: DequantizationScratch?

    /// Rounds a Float32 W [out, in] to bf16 (nearest even). bf16 `arithmetic` throws when this
    /// build or CPU cannot run bf16 GEMMs.
    public init(rounding tensor: Tensor, name: String = "weight", arithmetic: Arithmetic = .native) throws {
        guard tensor.rank == 2 else { throw TinhError.invalidInput("\(name): a bf16 weight must be 2-D, got \(tensor.shape)") }
        if arithmetic == .bf16 { try BF16GEMM.requireSupport() }
        self.arithmetic = arithmetic
        matrix = BF16Matrix(tensor)
    }

    /// Values rounded before (a mapped base file's).
    public init(_ matrix: BF16Matrix, arithmetic: Arithmetic = .native) throws {
        if arithmetic == .bf16 { try BF16GEMM.requireSupport() }
        self.arithmetic = arithmetic
        self.matrix = matrix
    }

    public var outFeatures: Int { matrix.rows }
    public var inFeatures: Int { matrix.cols }
    public var precision: BasePrecision { .bf16 }
    public var storageBytes: Int { matrix.bytes }
    public var formatName: String { "BF16" }

    /// Uses the model's buffers instead of this weight's own.
    public func share(inputs: BF16Scratch, floats: DequantizationScratch?) {
        inputScratch = inputs
        floatScratch = floats
    }

    /// bf16 GEMMs run on oneDNN (`gemm`, the Float32 library, does not apply); widened ones on `gemm`.
    public func multiplyTransposed(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, gemm: FrozenGEMM) {
        guard arithmetic == .bf16 else {
            let (n, k) = (outFeatures, inFeatures)
            return withFloats { w in gemm.multiplyTransposed(x, w, y, rows: rows, n: n, k: k) }
        }
        let x16 = inputScratch.rounded(x, count: rows * inFeatures)
        BF16GEMM.gemm(.none, .transpose, m: rows, n: outFeatures, k: inFeatures, a: x16, b: matrix.data, c: y)
    }

    public func multiply(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, accumulate: Bool, gemm: FrozenGEMM) {
        guard arithmetic == .bf16 else {
            let (n, k) = (outFeatures, inFeatures)
            return withFloats { w in gemm.multiply(dy, w, dx, rows: rows, n: n, k: k, accumulate: accumulate) }
        }
        let dy16 = inputScratch.rounded(dy, count: rows * outFeatures)
        BF16GEMM.gemm(.none, .none, m: rows, n: inFeatures, k: outFeatures, a: dy16, b: matrix.data,
                      accumulate: accumulate, c: dx)
    }

    public func withFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        let matrix = self.matrix
        guard let floatScratch else {
            let w = matrix.widened()
            return try withExtendedLifetime(w) { try body(w.data) }
        }
        return try body(floatScratch.floats(of: self, count: count) { BF16GEMM.widen(matrix.data, into: $0, count: matrix.rows * matrix.cols) })
    }
}
