import Foundation
import Tinh

/// What the `tinh` command takes from the environment, read here at the edge and passed on as
/// values (the library reads none of it).
enum RunEnvironment {
    /// TINH_F32_GEMM=openblas|onednn, when set: the library of the frozen Float32 products.
    static let requestedGEMM: FrozenGEMM? = {
        guard let value = ProcessInfo.processInfo.environment["TINH_F32_GEMM"], !value.isEmpty else { return nil }
        guard let gemm = FrozenGEMM(rawValue: value.lowercased()) else {
            fail("TINH_F32_GEMM=\(value): expected one of \(FrozenGEMM.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard gemm.isUsable else { fail("TINH_F32_GEMM=\(value): this build of tinh has no oneDNN (install libdnnl-dev and rebuild)") }
        return gemm
    }()

    /// The library of the frozen Float32 products for a run at `blasThreads` threads per rank.
    static func frozenGEMM(blasThreads: Int = BLAS.threads) -> FrozenGEMM {
        FrozenGEMM.preferred(blasThreads: blasThreads, requested: requestedGEMM)
    }
}
