import Foundation
import Tinh

/// What the `tinh` command takes from the environment, read here at the edge and passed on as
/// values (the library reads none of it). The TINH_TEST_* fault hooks are `FaultPlan`'s, read by
/// `tinh train`.
enum RunEnvironment {
    static let variables = ProcessInfo.processInfo.environment

    /// TINH_F32_GEMM=openblas|onednn, when set: the library of the frozen Float32 products.
    static let requestedGEMM: FrozenGEMM? = {
        guard let value = variables["TINH_F32_GEMM"], !value.isEmpty else { return nil }
        guard let gemm = FrozenGEMM(rawValue: value.lowercased()) else {
            fail("TINH_F32_GEMM=\(value): expected one of \(FrozenGEMM.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard gemm.isUsable else { fail("TINH_F32_GEMM=\(value): this build of tinh has no oneDNN (install libdnnl-dev and rebuild)") }
        return gemm
    }()

    /// TINH_HEAD_CHUNK_ROWS=N, when set: loss rows per chunk of the fused loss path (0: unfused;
    /// `DecoderModel.headChunkRows`, default `DecoderModel.defaultHeadChunkRows`).
    static let headChunkRows: Int? = {
        guard let value = variables["TINH_HEAD_CHUNK_ROWS"], !value.isEmpty else { return nil }
        guard let rows = Int(value), rows >= 0 else { fail("TINH_HEAD_CHUNK_ROWS=\(value): expected a number of rows (0: no fused loss path)") }
        return rows
    }()

    /// The library of the frozen Float32 products for a run at `blasThreads` threads per rank.
    static func frozenGEMM(blasThreads: Int = BLAS.threads) -> FrozenGEMM {
        FrozenGEMM.preferred(blasThreads: blasThreads, requested: requestedGEMM)
    }

    /// Applies the environment's model settings to a model the command loaded.
    static func configure(_ model: DecoderModel) {
        if let headChunkRows { model.headChunkRows = headChunkRows }
    }
}
