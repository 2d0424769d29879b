import CBF16
import Foundation

/// bf16 GEMMs for the frozen base, through oneDNN's matmul (the CBF16 shim): bf16 inputs, f32
/// accumulation and output. oneDNN picks its fastest kernel for this CPU at run time (AMX or
/// AVX512-BF16); one primitive per shape is created on first use and cached.
///
/// bf16 keeps float32's exponent and 8 significant bits, so each product term carries a relative
/// rounding error ≤ 2⁻⁸ per operand: with both operands rounded, |C − C_exact| ≤ ≈2⁻⁷·Σ_k|a_ik||b_kj|.
public enum BF16GEMM {
    public typealias Transpose = BLAS.Transpose

    /// Whether this build links oneDNN.
    public static var isCompiled: Bool { cbf16_compiled_with_onednn() != 0 }
    /// Whether oneDNN may run native bf16 instructions on this CPU (AVX512-BF16 or AMX).
    public static var isSupported: Bool { isCompiled && cbf16_cpu_supports_bf16() != 0 }
    /// oneDNN's effective ISA on this CPU, e.g. "avx512_core_amx".
    public static var isa: String { String(cString: cbf16_isa_name()) }
    public static var oneDNNVersion: String { String(cString: cbf16_onednn_version()) }

    /// Throws a clear error when bf16 compute was asked for but cannot run here; otherwise makes
    /// oneDNN's thread count follow OpenBLAS's (ranks × threads ≤ cores is set up for OpenBLAS).
    public static func requireSupport() throws {
        guard isCompiled else {
            throw TinhError.unsupported("bf16 base: this build of tinh has no oneDNN (install libdnnl-dev, e.g. launch/install-deps, and rebuild); use --base-precision f32")
        }
        guard isSupported else {
            throw TinhError.unsupported("bf16 base: this CPU lacks AVX512-BF16 (oneDNN reports ISA \(isa)); use --base-precision f32")
        }
        threads = BLAS.threads
    }

    /// Threads of oneDNN's OpenMP regions started from this thread (kept equal to `BLAS.threads`).
    public static var threads: Int {
        get { Int(cbf16_max_threads()) }
        set { cbf16_set_threads(Int32(newValue)) }
    }

    /// dst = src rounded to bf16 (nearest even), as raw bit patterns.
    @inline(__always)
    public static func round(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        cbf16_from_f32(src, dst, count)
    }

    /// dst = src widened to float (exact).
    @inline(__always)
    public static func widen(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        cbf16_to_f32(src, dst, count)
    }

    /// C[m×n] = op(A)[m×k] · op(B)[k×n] (+ C when `accumulate`), A and B bf16, C f32, row-major with
    /// cblas-style leading dimensions (defaults: packed). Call `requireSupport()` once before.
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        a: UnsafePointer<UInt16>, lda: Int? = nil,
        b: UnsafePointer<UInt16>, ldb: Int? = nil,
        accumulate: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * (ldc ?? n)).update(repeating: 0, count: n) } }
            return
        }
        let d = call(transA, transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        let status = cbf16_gemm(d.transA, d.transB, m, n, k, a, d.lda, b, d.ldb, c, d.ldc, accumulate ? 1 : 0)
        // Shapes and strides are the caller's (valid by construction); a failure here is oneDNN
        // running out of memory or an unsupported CPU that `requireSupport` should have caught.
        if status != 0 { fatalError("bf16 GEMM \(m)×\(k)×\(n): \(String(cString: cbf16_last_error()))") }
    }

    /// The same product with Float32 A and B through oneDNN's f32 matmul. Returns false (nothing
    /// written) when oneDNN is not compiled in or fails.
    @discardableResult
    public static func sgemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        accumulate: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) -> Bool {
        if m == 0 || n == 0 { return true }
        if k == 0 { return false }
        let d = call(transA, transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        return cbf16_sgemm(d.transA, d.transB, m, n, k, a, d.lda, b, d.ldb, c, d.ldc, accumulate ? 1 : 0) == 0
    }

    /// The shim's arguments for a call: cblas-style leading dimensions (packed when not given) and
    /// transposes as ints. Also makes oneDNN's OpenMP thread count, which belongs to the calling
    /// thread, follow OpenBLAS's on whichever thread runs this.
    private static func call(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                             lda: Int?, ldb: Int?, ldc: Int?) -> (transA: Int32, transB: Int32, lda: Int, ldb: Int, ldc: Int) {
        cbf16_set_threads(Int32(BLAS.threads))
        return (transA == .none ? 0 : 1, transB == .none ? 0 : 1,
                lda ?? (transA == .none ? k : m), ldb ?? (transB == .none ? n : k), ldc ?? n)
    }

    /// The oneDNN implementation used for this GEMM (e.g. "brg:avx512_core_amx_bf16"), or nil.
    public static func implementation(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                                      accumulate: Bool = false) -> String? {
        let lda = transA == .none ? k : m, ldb = transB == .none ? n : k
        guard let p = cbf16_gemm_impl(transA == .none ? 0 : 1, transB == .none ? 0 : 1, m, n, k,
                                      lda, ldb, n, accumulate ? 1 : 0) else { return nil }
        return String(cString: p)
    }

    /// Primitives in the cache, and lookups that found one there.
    public static var cacheEntries: Int { Int(cbf16_cache_entries()) }
    public static var cacheHits: Int { Int(cbf16_cache_hits()) }
    public static func clearCache() { cbf16_cache_clear() }
}

/// A matrix stored once as bf16 (row-major [rows, cols]), e.g. a frozen weight W [out, in].
public final class BF16Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutablePointer<UInt16>
    /// What keeps borrowed values alive (a mapped base file); nil: they are owned.
    private let owner: AnyObject?

    /// W rounded to bf16 (nearest even).
    public init(_ tensor: Tensor) {
        precondition(tensor.rank == 2, "BF16Matrix needs a 2-D tensor, got \(tensor.shape)")
        rows = tensor.shape[0]
        cols = tensor.shape[1]
        data = Self.allocate(rows * cols)
        owner = nil
        BF16GEMM.round(tensor.data, into: data, count: rows * cols)
    }

    /// bf16 values [rows, cols] that `owner` keeps alive (read-only: nothing writes to a matrix after it is made).
    public init(borrowing values: UnsafePointer<UInt16>, rows: Int, cols: Int, owner: AnyObject) {
        self.rows = rows
        self.cols = cols
        data = UnsafeMutablePointer(mutating: values)
        self.owner = owner
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<UInt16> {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(count, 1) * 2) == 0, let raw else {
            fatalError("out of memory allocating a bf16 matrix of \(count) values")
        }
        return raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    deinit {
        if owner == nil { free(data) }
    }

    public var bytes: Int { rows * cols * 2 }

    /// The stored values widened to float: W as the bf16 GEMM sees it.
    public func widened() -> Tensor {
        let t = Tensor(shape: [rows, cols])
        BF16GEMM.widen(data, into: t.data, count: rows * cols)
        return t
    }
}

/// A bf16 buffer that grows to the largest size asked for and is then reused (activations rounded
/// to bf16 right before a GEMM). One per model, shared by its Linears: only one GEMM runs at a time.
public final class BF16Scratch {
    private var storage: UnsafeMutablePointer<UInt16>?
    public private(set) var capacity = 0
    public init() {}
    deinit { free(storage) }

    /// Room for `n` values (contents not preserved when it grows).
    public func reserve(_ n: Int) -> UnsafeMutablePointer<UInt16> {
        if n > capacity || storage == nil {
            free(storage)
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, max(n, 1) * 2) == 0, let raw else {
                fatalError("out of memory allocating a bf16 scratch of \(n) values")
            }
            storage = raw.bindMemory(to: UInt16.self, capacity: max(n, 1))
            capacity = n
        }
        return storage!
    }

    /// `x` [rows, cols] rounded to bf16 into this scratch.
    public func rounded(_ x: UnsafePointer<Float>, count: Int) -> UnsafeMutablePointer<UInt16> {
        let p = reserve(count)
        BF16GEMM.round(x, into: p, count: count)
        return p
    }
}
