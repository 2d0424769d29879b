import CBLAS

/// The thin singular value decomposition W = U·diag(S)·Vᵀ of a row-major matrix, from LAPACK's
/// sgesdd (in OpenBLAS). Deterministic for a given input and OpenBLAS build, so every rank that
/// decomposes the same W gets the same bits.
public enum SVD {
    /// W [rows, cols] → U [rows, k], S [k] (descending), Vᵀ [k, cols], k = min(rows, cols).
    public static func thin(_ w: UnsafePointer<Float>, rows: Int, cols: Int) throws -> (u: Tensor, s: [Float], vt: Tensor) {
        let k = min(rows, cols)
        // Row-major W is column-major M = Wᵀ [cols, rows]. For M = U′·S·V′ᵀ, W = V′·S·U′ᵀ, and LAPACK's
        // column-major V′ᵀ [k, rows] and U′ [cols, k] read as row-major are W's U [rows, k] and Vᵀ [k, cols].
        let a = Tensor(shape: [rows, cols])
        a.data.update(from: w, count: rows * cols)
        let u = Tensor(shape: [rows, k]), vt = Tensor(shape: [k, cols])
        var s = [Float](repeating: 0, count: k)
        var jobz = CChar(UInt8(ascii: "S"))
        var m = Int32(cols), n = Int32(rows), lda = Int32(cols), ldu = Int32(cols), ldvt = Int32(k)
        var info: Int32 = 0, lwork: Int32 = -1
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var query: Float = 0
        sgesdd_(&jobz, &m, &n, a.data, &lda, &s, vt.data, &ldu, u.data, &ldvt, &query, &lwork, &iwork, &info, 1)
        guard info == 0 else { throw TinhError.invalidInput("SVD of a \(rows)×\(cols) matrix: LAPACK sgesdd workspace query failed (info \(info))") }
        lwork = Int32(query.rounded(.up))
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesdd_(&jobz, &m, &n, a.data, &lda, &s, vt.data, &ldu, u.data, &ldvt, &work, &lwork, &iwork, &info, 1)
        guard info == 0 else {
            throw TinhError.invalidInput("SVD of a \(rows)×\(cols) matrix did not converge (LAPACK sgesdd info \(info)); is the weight finite?")
        }
        return (u, s, vt)
    }
}
