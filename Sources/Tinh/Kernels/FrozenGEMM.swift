import Foundation

/// The products of a frozen Float32 weight W [out, in] (every base projection and the LM head):
/// y = x·Wᵀ and dx = dy·W. Which library runs them was measured, not assumed (`tinh bench`,
/// SmolLM2 4×128, 1 thread, alternating runs): oneDNN's f32 matmul made the step 3–4% faster than
/// OpenBLAS's sgemm for x·Wᵀ (OpenBLAS packs W and clears C on every call; oneDNN reads Wᵀ in
/// place), and about 2% faster again for dy·W (in 5 of 7 pairs; the other 2 were even) — although
/// alone, with everything in cache, OpenBLAS ran the dy·W shapes faster; both together, 4–7% less
/// step time in three more pairs. This holds for one BLAS
/// thread per rank (the setup `launch/run` makes): with 2 threads in one process oneDNN's OpenMP
/// pool and OpenBLAS's threads got in each other's way (388 and 368 vs 420 and 416 tokens/s), so
/// with more than one thread OpenBLAS runs everything. Without oneDNN in the build, or with
/// TINH_F32_GEMM=openblas, everything runs on OpenBLAS too. One row (decoding) stays on OpenBLAS's
/// matrix-vector product.
public enum FrozenGEMM {
    public enum Backend: String, Sendable { case openblas, onednn }

    /// The library the user asked for with TINH_F32_GEMM, if any.
    static let requested = ProcessInfo.processInfo.environment["TINH_F32_GEMM"].flatMap(Backend.init(rawValue:))

    /// The library both products run on now. OpenBLAS until `choose()` picks for the process: the
    /// choice is made once, explicitly, so that results never change library in the middle of a
    /// run (a temporary thread-count change, e.g. `tinh doctor`'s probe, must not switch it).
    nonisolated(unsafe) public private(set) static var backend: Backend = .openblas

    /// The library this process would use at the current BLAS thread count: oneDNN when the build
    /// has it, TINH_F32_GEMM does not say openblas, and BLAS runs one thread.
    public static var preferredBackend: Backend {
        guard BF16GEMM.isCompiled, BLAS.threads == 1 else { return .openblas }
        return requested ?? .onednn
    }

    /// Fixes `backend` for the process. The `tinh` command calls it at start (after OPENBLAS_NUM_THREADS
    /// took effect) and `tinh bench` again after setting --threads; library users and the tests,
    /// which never call it, stay on OpenBLAS.
    public static func choose() { backend = preferredBackend }

    /// y [rows, n] = x [rows, k] · Wᵀ with W [n, k] row-major.
    @inline(__always)
    public static func multiplyTransposed(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                          rows: Int, n: Int, k: Int) {
        if backend == .onednn, rows > 1,
           BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n) {
            return
        }
        BLAS.gemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n)
    }

    /// dx [rows, k] = dy [rows, n] · W (or += with `accumulate`) with W [n, k] row-major.
    @inline(__always)
    public static func multiply(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, n: Int, k: Int, accumulate: Bool) {
        if backend == .onednn, rows > 1,
           BF16GEMM.sgemm(.none, .none, m: rows, n: k, k: n, a: dy, lda: n, b: w, ldb: k, accumulate: accumulate, c: dx, ldc: k) { return }
        BLAS.gemm(.none, .none, m: rows, n: k, k: n, a: dy, lda: n, b: w, ldb: k, beta: accumulate ? 1 : 0, c: dx, ldc: k)
    }
}
