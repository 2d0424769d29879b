import Foundation
import Testing
@testable import Tinh

/// Finite-difference gradient checking for the explicit backward passes.
/// Fourth-order central differences (f(x±h), f(x±2h)) on Float32 parameters with losses accumulated
/// in Double, so truncation error is negligible and h can be large enough to beat Float32 rounding.
/// Every checked entry must satisfy
///     |analytic − numeric| ≤ tol · max(|analytic|, |numeric|, floorFraction · max|analytic|) + atol
/// where the floor keeps entries that are ≈ 0 from dividing noise by noise, and `atol` covers the
/// rounding noise of the loss itself (≈ 1.5 · lossNoise / h for this stencil; 0 for small kernels).
/// A transposed, missing or mis-scaled term gives errors of order 1 on most entries.
struct GradCheck {
    var eps: Float = 2e-2
    var tol: Double = 5e-3
    var floorFraction: Double = 1e-2
    /// At most this many entries per tensor (a deterministic sample, always with the first and last).
    var maxChecks = 160
    /// Absolute rounding noise of one loss evaluation; allows 4 × the stencil's noise on each entry.
    var lossNoise: Double = 0

    struct Result { var worst = 0.0; var worstRel = 0.0; var checked = 0; var failures: [String] = [] }

    /// Checks `analytic[i]` == d loss / d param[i] for every i in `indices` (default: a sample of all).
    @discardableResult
    func check(_ what: String, param: UnsafeMutablePointer<Float>, analytic: [Float], indices: [Int]? = nil,
               loss: () -> Double, sourceLocation: SourceLocation = #_sourceLocation) -> Result {
        var idx = indices ?? Array(analytic.indices)
        if idx.count > maxChecks {
            var d = TestData(seed: UInt64(idx.count))
            idx = Array(Set(d.sample(maxChecks - 2, of: idx.count).map { idx[$0] } + [idx.first!, idx.last!])).sorted()
        }
        let scale = analytic.map { Double(abs($0)) }.max() ?? 0
        let floor = floorFraction * scale
        let atol = 4 * 1.5 * lossNoise / Double(eps)
        var r = Result()
        for i in idx {
            let orig = param[i]
            func f(_ k: Float) -> Double { param[i] = orig + k * eps; return loss() }
            let numeric = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * Double(eps))
            param[i] = orig
            let a = Double(analytic[i])
            let big = max(abs(a), abs(numeric), floor)
            let allowed = tol * big + atol
            let ratio = allowed > 0 ? abs(a - numeric) / allowed : (a == numeric ? 0 : .infinity)
            r.worst = max(r.worst, ratio)
            r.worstRel = max(r.worstRel, big > 0 ? abs(a - numeric) / big : 0)
            r.checked += 1
            if ratio > 1 { r.failures.append("\(what)[\(i)]: analytic \(a) numeric \(numeric) (allowed ±\(allowed))") }
        }
        #expect(r.checked > 0, "\(what): nothing checked", sourceLocation: sourceLocation)
        #expect(r.failures.isEmpty, "\(what): \(r.failures.count)/\(r.checked) entries off, e.g. \(r.failures.prefix(4))",
                sourceLocation: sourceLocation)
        if ProcessInfo.processInfo.environment["TINH_GRADCHECK_VERBOSE"] != nil {
            print("gradcheck \(what): \(r.checked) entries, worst error/allowed \(r.worst), worst rel err \(r.worstRel)")
        }
        return r
    }
}

/// Deterministic test data.
struct TestData {
    var rng: SeededGenerator
    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func normal(_ n: Int, std: Float = 1) -> [Float] { (0..<n).map { _ in rng.nextNormal() * std } }
    mutating func tensor(_ shape: [Int], std: Float = 1) -> Tensor {
        Tensor(shape: shape, values: normal(shape.reduce(1, *), std: std))
    }
    mutating func int(_ upper: Int) -> Int { Int(rng.next() % UInt64(upper)) }
    /// `k` distinct sorted indices in 0..<n.
    mutating func sample(_ k: Int, of n: Int) -> [Int] {
        var set = Set<Int>()
        while set.count < min(k, n) { set.insert(int(n)) }
        return set.sorted()
    }
}

/// Σ w_i · y_i in Double: a scalar loss whose gradient w.r.t. y is w.
func weightedSum(_ y: UnsafePointer<Float>, _ w: [Float]) -> Double {
    var s = 0.0
    for i in w.indices { s += Double(w[i]) * Double(y[i]) }
    return s
}

func maxAbsDiff(_ a: UnsafePointer<Float>, _ b: [Double]) -> Double {
    var m = 0.0
    for i in b.indices { m = max(m, abs(Double(a[i]) - b[i])) }
    return m
}
