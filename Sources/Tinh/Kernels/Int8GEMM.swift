import CBF16
import Foundation

/// int8 GEMMs for the frozen base, through oneDNN's int8 matmul (the CBF16 shim): int8 inputs, exact
/// int32 sums, and the passes around them, dynamic per-row quantization of the f32 input and the f32
/// epilogue (`quantizeRows`, `dequantize`, in C with an AVX2 path). oneDNN picks its kernel at run
/// time: AMX-INT8, AVX512-VNNI or AVX-VNNI where the CPU has them, else AVX2's vpmaddubsw/vpmaddwd.
///
/// Without VNNI those 16-bit intermediate sums saturate for large codes: oneDNN shifts the int8
/// source to uint8 (≤ 255), and a pair 255·127 + 255·127 overflows int16. Weights therefore use
/// codes in ±63 on such CPUs (`weightLevels`; 2·255·63 < 2¹⁵, checked exhaustively at the extremes
/// in the tests) and ±127 with VNNI, whose instructions add straight into int32. Sources always use ±127.
public enum Int8GEMM {
    public typealias Transpose = BLAS.Transpose

    /// Whether this build can run int8 GEMMs (it links oneDNN).
    public static var isSupported: Bool { BF16GEMM.isCompiled }
    /// Whether oneDNN's ISA here has VNNI (AVX512-VNNI, AVX-VNNI; AMX implies it).
    public static var hasVNNI: Bool { isSupported && cbf16_cpu_has_vnni() != 0 }
    /// The largest code a weight may use on this CPU: 127 with VNNI, 63 without.
    public static var weightLevels: Int { hasVNNI ? 127 : 63 }
    /// The largest code of a dynamically quantized source row (x, or dy).
    public static let sourceLevels = 127

    /// Throws a clear error when this build cannot run int8 GEMMs; otherwise makes oneDNN's thread
    /// count follow OpenBLAS's.
    public static func requireSupport() throws {
        guard isSupported else {
            throw TinhError.unsupported("int8 base: this build of tinh has no oneDNN (install libdnnl-dev, e.g. launch/install-deps, and rebuild); use --base-precision f32")
        }
        BF16GEMM.threads = BLAS.threads
    }

    /// C[m×n] (int32) = A[m×k] · op(B)[k×n], A and B int8 codes, row-major (defaults: packed).
    public static func gemm(_ transB: Transpose, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Int8>, lda: Int? = nil,
                            b: UnsafePointer<Int8>, ldb: Int? = nil,
                            c: UnsafeMutablePointer<Int32>, ldc: Int? = nil) {
        if m == 0 || n == 0 { return }
        let ldb = ldb ?? (transB == .none ? n : k)
        cbf16_set_threads(Int32(BLAS.threads))
        let status = cbf16_s8gemm(0, transB == .none ? 0 : 1, m, n, k, a, lda ?? k, b, ldb, c, ldc ?? n)
        // Shapes and strides are the caller's (valid by construction): a failure is oneDNN out of memory.
        if status != 0 { fatalError("int8 GEMM \(m)×\(k)×\(n): \(String(cString: cbf16_last_error()))") }
    }

    /// Quantizes each of `rows` rows of x (row stride `ldx`), first multiplied by `columnScale` when
    /// given: scale s = max|v| / `levels`, codes round(v / s) into `codes` (packed, `cols` per row),
    /// s into `scales`. A zero row gets s = 0; a row with Inf or NaN gets s = NaN.
    public static func quantizeRows(_ x: UnsafePointer<Float>, rows: Int, cols: Int, ldx: Int? = nil,
                                    columnScale: UnsafePointer<Float>? = nil, levels: Int = sourceLevels,
                                    codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        cint8_quantize_rows(x, rows, cols, ldx ?? cols, columnScale, Int32(levels), codes, scales)
    }

    /// y[i, j] = rowScale[i]·columnScale[j]·c[i, j] (+ y with `accumulate`); c packed [rows, cols].
    public static func dequantize(_ c: UnsafePointer<Int32>, rows: Int, cols: Int, rowScale: UnsafePointer<Float>,
                                  columnScale: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                                  accumulate: Bool) {
        cint8_dequantize(c, rows, cols, rowScale, columnScale, y, ldy ?? cols, accumulate ? 1 : 0)
    }

    /// The oneDNN implementation of A[·×k]·op(B) (e.g. "brg:avx512_core_vnni", "gemm:jit"), or nil.
    public static func implementation(_ transB: Transpose, n: Int, k: Int) -> String? {
        guard let p = cbf16_s8gemm_impl(0, transB == .none ? 0 : 1, 1, n, k, k, transB == .none ? n : k, n) else { return nil }
        return String(cString: p)
    }
}
