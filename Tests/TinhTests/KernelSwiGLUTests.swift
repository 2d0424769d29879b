import Foundation
import Testing
@testable import Tinh

@Suite struct KernelSwiGLUTests {
    let n = 45   // two SIMD blocks and a tail

    @Test func forwardMatchesReference() {
        var d = TestData(seed: 7)
        let g = d.tensor([n], std: 3), u = d.tensor([n]), h = Tensor(shape: [n])
        SwiGLU.forward(h: h.data, gate: g.data, up: u.data, count: n)
        let ref = (0..<n).map { Double(g[$0]) / (1 + exp(-Double(g[$0]))) * Double(u[$0]) }
        // g·σ(g)·u with σ(g) = 1/(1 + e^{−g}): the exp within E relative, which 1 + e^{−g} and the
        // reciprocal carry over (plus u each), and two products: within (E + 4u)·|ref|.
        let relative = RoundingBound.simdExp + 4 * RoundingBound.u
        #expect((0..<n).allSatisfy { abs(Double(h[$0]) - ref[$0]) <= relative * abs(ref[$0]) })
    }

    @Test func backwardMatchesFiniteDifferences() {
        var d = TestData(seed: 8)
        let g = d.tensor([n], std: 2), u = d.tensor([n]), dh = d.normal(n)
        let h = Tensor(shape: [n])
        func loss() -> Double {
            SwiGLU.forward(h: h.data, gate: g.data, up: u.data, count: n)
            return weightedSum(h.data, dh)
        }
        let dg = Tensor(shape: [n], values: dh), du = Tensor(shape: [n])
        SwiGLU.backward(dgate: dg.data, dup: du.data, dh: dg.data, gate: g.data, up: u.data, count: n)   // dgate aliases dh
        GradCheck().check("swiglu dgate", param: g.data, analytic: dg.array, loss: loss)
        GradCheck().check("swiglu dup", param: u.data, analytic: du.array, loss: loss)
    }
}
