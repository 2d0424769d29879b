import Foundation

/// The products of a frozen Float32 weight W [out, in] (every base projection and the LM head):
/// y = x·Wᵀ and dx = dy·W. Which library runs them was measured, not assumed (`tinh bench`,
/// SmolLM2 4×128, 1 thread, alternating runs): oneDNN's f32 matmul runs y = x·Wᵀ about 7% faster
/// per training step than OpenBLAS's sgemm (it reads Wᵀ without OpenBLAS's packing copy and
/// beta=0 clearing pass), while for dy·W neither was consistently ahead, so that stays on OpenBLAS.
/// That holds for one BLAS thread per rank (the setup `launch/run` makes): with 2 threads in one
/// process oneDNN's OpenMP pool and OpenBLAS's threads got in each other's way (388 and 368 vs
/// 420 and 416 tokens/s), so with more than one thread OpenBLAS runs everything. Without oneDNN in
/// the build, or with TINH_F32_GEMM=openblas, everything runs on OpenBLAS too. One row (decoding)
/// stays on OpenBLAS's matrix-vector product.
public enum FrozenGEMM {
    public enum Backend: String, Sendable { case openblas, onednn }

    /// The library behind y = x·Wᵀ for this process when BLAS runs one thread.
    public static let preferredForwardBackend: Backend = {
        let asked = ProcessInfo.processInfo.environment["TINH_F32_GEMM"].flatMap(Backend.init(rawValue:))
        return asked ?? (BF16GEMM.isCompiled ? .onednn : .openblas)
    }()

    /// The library running y = x·Wᵀ now (it depends on the BLAS thread count).
    public static var forwardBackend: Backend { BLAS.threads == 1 ? preferredForwardBackend : .openblas }

    /// y [rows, n] = x [rows, k] · Wᵀ with W [n, k] row-major.
    @inline(__always)
    public static func multiplyTransposed(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                          rows: Int, n: Int, k: Int) {
        if preferredForwardBackend == .onednn, rows > 1, BLAS.threads == 1,
           BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n) {
            return
        }
        BLAS.gemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n)
    }

    /// dx [rows, k] = dy [rows, n] · W (or += with `accumulate`) with W [n, k] row-major.
    @inline(__always)
    public static func multiply(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, n: Int, k: Int, accumulate: Bool) {
        BLAS.gemm(.none, .none, m: rows, n: k, k: n, a: dy, lda: n, b: w, ldb: k, beta: accumulate ? 1 : 0, c: dx, ldc: k)
    }
}
