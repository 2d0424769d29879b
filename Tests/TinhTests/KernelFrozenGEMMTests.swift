import Foundation
import Testing
@testable import Tinh

/// The frozen-weight products on every library this build and CPU can run (`FrozenGEMM.usable`),
/// against a double-precision reference, on shapes that are not multiples of any kernel's block.
/// The bound is the float32 dot-product bound γ_k·Σ|x||w| (`RoundingBound`), which holds for any
/// summation order, so it holds for OpenBLAS and oneDNN on AVX2 and AVX-512 alike.
struct KernelFrozenGEMMTests {
    static let libraries = FrozenGEMM.usable

    @Test(arguments: libraries, [(1, 7, 5), (3, 17, 33), (37, 64, 96), (130, 49, 200)])
    func multiplyTransposedMatchesReference(gemm: FrozenGEMM, shape: (Int, Int, Int)) {
        let (rows, n, k) = shape
        var d = TestData(seed: UInt64(rows * 1000 + n))
        let x = d.tensor([rows, k]), w = d.tensor([n, k]), y = Tensor(shape: [rows, n])
        y.fill(9)   // must be overwritten, not added to
        gemm.multiplyTransposed(x.data, w.data, y.data, rows: rows, n: n, k: k)
        let check = ReferenceProduct.transposed(x, w, rows: rows, n: n, k: k).check(y.data, length: k)
        #expect(check.ok, "\(gemm) \(rows)×\(n)×\(k): error is \(check.worst)× the float32 bound")
    }

    @Test(arguments: libraries, [false, true])
    func multiplyMatchesReference(gemm: FrozenGEMM, accumulate: Bool) {
        var d = TestData(seed: 31)
        for (rows, n, k) in [(29, 40, 23), (2, 7, 5), (130, 49, 200)] {   // dx [rows, k] = dy [rows, n] · W [n, k]
            let dy = d.tensor([rows, n]), w = d.tensor([n, k]), dx = Tensor(shape: [rows, k])
            dx.fill(0.5)
            gemm.multiply(dy.data, w.data, dx.data, rows: rows, n: n, k: k, accumulate: accumulate)
            let plain = ReferenceProduct.plain(dy, w, rows: rows, n: n, k: k)
            let reference = accumulate ? plain.accumulated(onto: 0.5) : plain
            let check = reference.check(dx.data, length: n + (accumulate ? 1 : 0))
            #expect(check.ok, "\(gemm) \(rows)×\(n)×\(k) accumulate \(accumulate): error is \(check.worst)× the float32 bound")
        }
    }

    /// oneDNN's f32 matmul itself, including accumulation into C (the shim call FrozenGEMM.onednn makes).
    @Test(.enabled(if: FrozenGEMM.onednn.isUsable, "SKIPPED: this build has no oneDNN (libdnnl-dev was missing when Package.swift was evaluated)"),
          arguments: [(2, 7, 5), (37, 64, 96), (130, 49, 200)])
    func oneDNNSgemmMatchesReference(rows: Int, n: Int, k: Int) throws {
        var d = TestData(seed: UInt64(7 * rows + k))
        let x = d.tensor([rows, k]), w = d.tensor([n, k]), y = Tensor(shape: [rows, n])
        y.fill(9)
        #expect(BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x.data, b: w.data, c: y.data))
        let reference = ReferenceProduct.transposed(x, w, rows: rows, n: n, k: k)
        #expect(reference.check(y.data, length: k).ok)
        // C += x·Wᵀ onto C = x·Wᵀ as computed: the reference adds the computed C, a term of its own.
        let first = (0..<rows * n).map { Double(y.data[$0]) }
        #expect(BF16GEMM.sgemm(.none, .transpose, m: rows, n: n, k: k, a: x.data, b: w.data, accumulate: true, c: y.data))
        let twice = ReferenceProduct(values: zip(reference.values, first).map { $0 + $1 },
                                     absSums: zip(reference.absSums, first).map { $0 + abs($1) })
        #expect(twice.check(y.data, length: k + 1).ok)
    }

    /// The library is a value the caller chooses; `preferred` picks oneDNN only where it was
    /// measured to help (one BLAS thread, oneDNN compiled in), and an explicit request wins.
    @Test func preferredLibraryFollowsThreadsAndRequest() {
        #expect(FrozenGEMM.preferred(blasThreads: 2) == .openblas)
        #expect(FrozenGEMM.preferred(blasThreads: 1) == (FrozenGEMM.onednn.isUsable ? .onednn : .openblas))
        #expect(FrozenGEMM.preferred(blasThreads: 1, requested: .openblas) == .openblas)
        #expect(FrozenGEMM.usable.first == .openblas)
        #expect(FrozenGEMM.usable.contains(.onednn) == BF16GEMM.isCompiled)
    }

    /// Setting the model's library reaches every Linear, the LM head included.
    @Test func modelPassesItsLibraryToEveryLinear() throws {
        let model = try ModelSource.load("tiny:1", gemm: .openblas).model
        for gemm in Self.libraries {
            model.frozenGEMM = gemm
            #expect(model.linears.allSatisfy { $0.gemm == gemm })
        }
    }
}
