import Foundation

/// A slice of the flat parameter buffer that shares optimizer settings. LoRA+ gives B a larger
/// learning rate than A through `lrScale`; biases and norms can skip weight decay.
public struct ParameterGroup: Codable, Equatable, Sendable {
    public var name: String
    public var range: Range<Int>
    public var lrScale: Float
    public var weightDecay: Float

    public init(name: String, range: Range<Int>, lrScale: Float = 1, weightDecay: Float = 0) {
        self.name = name
        self.range = range
        self.lrScale = lrScale
        self.weightDecay = weightDecay
    }
}

/// AdamW (Loshchilov & Hutter) with decoupled weight decay, over one flat parameter buffer, in
/// the same order of operations as PyTorch's `torch.optim.AdamW`:
/// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − lr·m̂ / (√v̂ + ε).
public final class AdamW {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// First and second moments, one entry per parameter; saved in checkpoints.
    public let m: Tensor
    public let v: Tensor
    /// Optimizer steps taken (for bias correction); saved in checkpoints.
    public var stepCount: Int = 0

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = Tensor(shape: [parameterCount])
        v = Tensor(shape: [parameterCount])
    }

    /// One update of `params` from `grads` (both of `m.count` entries) at learning rate `lr`.
    public func step(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, groups: [ParameterGroup], lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - pow(beta1, t)
        let correction2 = 1 - pow(beta2, t)
        for group in groups where !group.range.isEmpty {
            let groupLR = lr * group.lrScale
            update(params + group.range.lowerBound, grads + group.range.lowerBound,
                   m.data + group.range.lowerBound, v.data + group.range.lowerBound,
                   count: group.range.count, lr: groupLR, decay: 1 - groupLR * group.weightDecay,
                   stepSize: groupLR / correction1, rootCorrection2: correction2.squareRoot())
        }
    }

    private func update(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                        _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                        count: Int, lr: Float, decay: Float, stepSize: Float, rootCorrection2: Float) {
        let b1 = beta1, b2 = beta2, eps = epsilon
        var i = 0
        typealias V = SIMD8<Float>
        let w = V.scalarCount
        while i + w <= count {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            var mi = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
            var vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
            var pi = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
            pi *= decay
            mi = b1 * mi + (1 - b1) * gi
            vi = b2 * vi + (1 - b2) * gi * gi
            let denominator = vi.squareRoot() / rootCorrection2 + eps
            pi -= stepSize * mi / denominator
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
            i += w
        }
        while i < count {
            p[i] *= decay
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / rootCorrection2 + eps)
            i += 1
        }
    }
}
