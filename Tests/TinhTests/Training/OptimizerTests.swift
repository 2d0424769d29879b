import Foundation
import Testing
@testable import Tinh

@Suite struct OptimizerTests {
    /// Scalar AdamW written from the paper's equations, in Double, as the reference.
    func referenceAdamW(p0: [Double], grads: [[Double]], lr: Double, wd: Double) -> [Double] {
        var p = p0, m = [Double](repeating: 0, count: p0.count), v = m
        for (t, g) in grads.enumerated() {
            for i in p.indices {
                p[i] *= 1 - lr * wd
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                p[i] -= lr * mh / (vh.squareRoot() + 1e-8)
            }
        }
        return p
    }

    @Test func adamWMatchesReferenceAcrossGroups() {
        let n = 37  // not a multiple of the SIMD width, so the tail loop runs too
        var rng = SystemRandomNumberGenerator()
        let p0 = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
        let grads = (0..<5).map { _ in (0..<n).map { _ in Double.random(in: -1...1, using: &rng) } }
        let groups = [ParameterGroup(name: "A", range: 0..<20, lrScale: 1, weightDecay: 0.1),
                      ParameterGroup(name: "B", range: 20..<n, lrScale: 16, weightDecay: 0)]
        let params = Tensor(shape: [n], values: p0.map(Float.init))
        let opt = AdamW(parameterCount: n)
        for g in grads {
            let gt = Tensor(shape: [n], values: g.map(Float.init))
            opt.step(params: params.data, grads: gt.data, groups: groups, lr: 1e-2)
        }
        let refA = referenceAdamW(p0: Array(p0[0..<20]), grads: grads.map { Array($0[0..<20]) }, lr: 1e-2, wd: 0.1)
        let refB = referenceAdamW(p0: Array(p0[20...]), grads: grads.map { Array($0[20...]) }, lr: 1.6e-1, wd: 0)
        for (i, expected) in (refA + refB).enumerated() {
            #expect(abs(Double(params[i]) - expected) < 1e-5, "param \(i): \(params[i]) vs \(expected)")
        }
        #expect(opt.stepCount == 5)
    }

    @Test func scheduleWarmsUpThenDecays() {
        let cosine = LearningRateSchedule(peak: 1, warmupSteps: 4, totalSteps: 14, decay: .cosine)
        #expect(cosine.rate(at: 0) == 0.2 && cosine.rate(at: 3) == 0.8)
        #expect(cosine.rate(at: 4) == 1)
        #expect(abs(cosine.rate(at: 9) - 0.5) < 1e-6)
        #expect(abs(cosine.rate(at: 14)) < 1e-6 && abs(cosine.rate(at: 100)) < 1e-6)
        let linear = LearningRateSchedule(peak: 2, totalSteps: 10, decay: .linear, minRatio: 0.1)
        #expect(linear.rate(at: 0) == 2 && abs(linear.rate(at: 5) - 1.1) < 1e-6)
        #expect(LearningRateSchedule(peak: 3, totalSteps: 5, decay: .constant).rate(at: 4) == 3)
    }

    @Test func clippingScalesToMaxNorm() {
        let g = Tensor(shape: [19], values: (0..<19).map { Float($0) - 9 })
        let expectedNorm = (0..<19).map { pow(Double($0) - 9, 2) }.reduce(0, +).squareRoot()
        let before = GradientNorm.clip(g.data, count: g.count, maxNorm: 1)
        #expect(abs(before - expectedNorm) < 1e-9)
        #expect(abs(GradientNorm.l2(g.data, count: g.count) - 1) < 1e-5)
        // The scale is applied before the norm is measured and clipped.
        let raw = Tensor(shape: [2], values: [30, 40])
        #expect(abs(GradientNorm.clip(raw.data, count: 2, maxNorm: 100, scale: 0.125) - 6.25) < 1e-9)
        #expect(raw.array == [3.75, 5])
        #expect(abs(GradientNorm.clip(raw.data, count: 2, maxNorm: 1, scale: 2) - 12.5) < 1e-6)
        #expect(abs(GradientNorm.l2(raw.data, count: 2) - 1) < 1e-5)
        let small = Tensor(shape: [3], values: [0.1, 0.2, 0.2])
        GradientNorm.clip(small.data, count: 3, maxNorm: 1)
        #expect(small.array == [0.1, 0.2, 0.2])
    }
}
