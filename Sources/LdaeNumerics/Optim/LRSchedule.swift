import Foundation

/// Learning rate as a pure function of the step (MAE's `adjust_learning_rate`, per step instead of per
/// fractional epoch): peak = base_lr * batch / 256; linear warmup over `warmupSteps` updates, then a
/// half-cycle cosine from peak to `minLR` at `totalSteps`. Step s is the 0-based index of the update.
public struct LRSchedule: Equatable, Sendable {
    public let peak: Double
    public let minLR: Double
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(peak: Double, minLR: Double, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.minLR = minLR; self.warmupSteps = max(0, warmupSteps); self.totalSteps = max(1, totalSteps)
    }

    /// From a training config: warmup = warmup_epochs * stepsPerEpoch updates (rounded), capped at totalSteps.
    public init(config: TrainConfig, stepsPerEpoch: Int, totalSteps: Int) {
        self.init(peak: config.baseLR * Double(config.batchSize) / 256, minLR: config.minLR,
                  warmupSteps: min(totalSteps, Int((config.warmupEpochs * Double(stepsPerEpoch)).rounded())),
                  totalSteps: totalSteps)
    }

    public func callAsFunction(_ step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let span = totalSteps - warmupSteps
        if span <= 0 { return peak }
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        return minLR + (peak - minLR) * 0.5 * (1 + cos(Double.pi * progress))
    }
}
