import Foundation

/// The library that runs the products of a frozen Float32 weight W [out, in] (every base projection
/// and the LM head): y = x·Wᵀ and dx = dy·W. A value each `Linear` holds, set through
/// `DecoderModel.frozenGEMM` (or `ModelSource.load(gemm:)`), never a process-wide switch: the
/// `tinh` command picks one at start with `preferred(blasThreads:requested:)` and hands it to the
/// model, and the tests run the same model code on every library in `usable`.
///
/// Which library is faster was measured, not assumed (`tinh bench`, SmolLM2 4×128, 1 thread,
/// alternating runs): oneDNN's f32 matmul made the step 3–4% faster than OpenBLAS's sgemm for
/// x·Wᵀ (OpenBLAS packs W and clears C on every call; oneDNN reads Wᵀ in place), and about 2%
/// faster again for dy·W — both together 4–7% less step time. That holds at one BLAS thread per
/// rank (the setup `launch/run` makes): with 2 threads in one process oneDNN's OpenMP pool and
/// OpenBLAS's threads got in each other's way (388 and 368 vs 420 and 416 tokens/s), so with
/// more threads OpenBLAS is preferred. One row (decoding) always runs OpenBLAS's matrix-vector product.
///
/// The two libraries sum each dot product in a different order (blocking, vector width), so their
/// results differ in the last bits; each stays within the float32 dot-product bound γ_k·Σ|x||w|.
public enum FrozenGEMM: String, CaseIterable, Sendable, Codable {
    case openblas, onednn

    /// Whether this build and CPU can run the library (oneDNN must be linked in).
    public var isUsable: Bool {
        switch self {
        case .openblas: return true
        case .onednn: return BF16GEMM.isCompiled
        }
    }

    /// Every library this build can run here, OpenBLAS first.
    public static var usable: [FrozenGEMM] { allCases.filter(\.isUsable) }

    /// The library a run should use: `requested` (TINH_F32_GEMM, read by the CLI) when usable,
    /// else oneDNN at one BLAS thread when the build has it, else OpenBLAS.
    public static func preferred(blasThreads: Int, requested: FrozenGEMM? = nil) -> FrozenGEMM {
        if let requested, requested.isUsable { return requested }
        return blasThreads == 1 && FrozenGEMM.onednn.isUsable ? .onednn : .openblas
    }

    /// y [rows, n] = x [rows, k] · Wᵀ with W [n, k] row-major.
    @inline(__always)
    public func multiplyTransposed(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   rows: Int, n: Int, k: Int) {
        if self == .onednn, rows > 1,
           BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n) {
            return
        }
        BLAS.gemm(.none, .transpose, m: rows, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: y, ldc: n)
    }

    /// dx [rows, k] = dy [rows, n] · W (or += with `accumulate`) with W [n, k] row-major.
    @inline(__always)
    public func multiply(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         rows: Int, n: Int, k: Int, accumulate: Bool) {
        if self == .onednn, rows > 1,
           BF16GEMM.sgemm(.none, .none, m: rows, n: k, k: n, a: dy, lda: n, b: w, ldb: k, accumulate: accumulate, c: dx, ldc: k) { return }
        BLAS.gemm(.none, .none, m: rows, n: k, k: n, a: dy, lda: n, b: w, ldb: k, beta: accumulate ? 1 : 0, c: dx, ldc: k)
    }
}
