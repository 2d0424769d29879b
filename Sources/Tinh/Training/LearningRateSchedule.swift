import Foundation

/// Learning rate at each optimizer step: linear warm-up from 0 to the peak, then a decay to
/// `minRatio` × peak at `totalSteps` (the shapes of Hugging Face's schedulers of the same names).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, CaseIterable, Sendable { case cosine, linear, constant }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var minRatio: Float

    public init(peak: Float, warmupSteps: Int = 0, totalSteps: Int, decay: Decay = .cosine, minRatio: Float = 0) {
        self.peak = peak
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(1, totalSteps)
        self.decay = decay
        self.minRatio = minRatio
    }

    /// The rate for optimizer step `step` (0-based: the first update uses step 0).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps + 1) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        let factor: Double
        switch decay {
        case .constant: factor = 1
        case .linear: factor = 1 - progress
        case .cosine: factor = 0.5 * (1 + cos(Double.pi * progress))
        }
        return peak * (minRatio + (1 - minRatio) * Float(factor))
    }
}
