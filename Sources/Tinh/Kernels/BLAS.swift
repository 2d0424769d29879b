import CBLAS
import CBF16

/// The one place that calls OpenBLAS. Every matmul in Tinh goes through `gemm`.
public enum BLAS {
    public enum Transpose { case none, transpose }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored (defaults: packed).
    @inline(__always)
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        if m == 1 && k > 0 {
            // One row (token-by-token decoding): a matrix-vector product, which streams B once
            // instead of packing it as sgemm does (about 2× faster for memory-bound decoding).
            // Row-major B is [n, k] for op(B) = Bᵀ and [k, n] for op(B) = B; x is A's only row,
            // whose elements sit `lda` apart when A is transposed.
            let ldb = ldb ?? (transB == .none ? n : k)
            let incX = transA == .none ? 1 : (lda ?? 1)
            if transB == .transpose {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(k), alpha, b, blasint(ldb),
                            a, blasint(incX), beta, c, 1)
            } else {
                cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), alpha, b, blasint(ldb),
                            a, blasint(incX), beta, c, 1)
            }
            return
        }
        let lda = lda ?? (transA == .none ? k : m)
        let ldb = ldb ?? (transB == .none ? n : k)
        let ldc = ldc ?? n
        cblas_sgemm(
            CblasRowMajor,
            transA == .none ? CblasNoTrans : CblasTrans,
            transB == .none ? CblasNoTrans : CblasTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Threads OpenBLAS uses for each call; oneDNN's bf16 GEMMs (OpenMP) follow the same count.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            openblas_set_num_threads(Int32(newValue))
            cbf16_set_threads(Int32(newValue))
        }
    }

    /// OpenBLAS's build configuration string (version, kernel, threading model).
    public static var config: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c)
    }

    /// The CPU kernel family OpenBLAS chose at run time (e.g. "Cooperlake").
    public static var coreName: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }
}
