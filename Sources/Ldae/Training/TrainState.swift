import Foundation

/// What a run has done so far besides its weights and AdamW's moments: saved in each checkpoint, restored by
/// `--resume`, the same on every rank.
public struct TrainState: Sendable {
    /// Steps done (updates applied).
    public var step = 0
    public var lastLoss = Double.nan
    /// Wall seconds of the training steps, across resumes.
    public var trainSeconds = 0.0
    /// CPU seconds of the training steps summed over the ranks, across resumes.
    public var cpuSeconds = 0.0
    /// Each rank's CPU seconds since step `perRankSinceStep` (the provenance's per-rank split).
    public var cpuPerRank: [Double]
    public var perRankSinceStep = 0

    public init(ranks: Int) { cpuPerRank = [Double](repeating: 0, count: ranks) }

    /// One step's loss, its wall time and each rank's CPU seconds (index = rank).
    mutating func record(loss: Double, seconds: Double, cpuPerRank cpu: [Double]) {
        trainSeconds += seconds
        cpuSeconds += cpu.reduce(0, +)
        for r in 0..<min(cpuPerRank.count, cpu.count) { cpuPerRank[r] += cpu[r] }
        lastLoss = loss
    }

    /// The state a checkpoint holds (its step, loss and clocks; the per-rank split when the number of ranks is the
    /// same, else the split starts again at its step).
    mutating func restore(_ ck: Checkpoint) {
        step = ck.step
        lastLoss = ck.lastLoss
        trainSeconds = ck.trainSeconds
        cpuSeconds = ck.cpuSeconds
        if let p = ck.provenance, p.cpuSecondsPerRank.count == cpuPerRank.count {
            cpuPerRank = p.cpuSecondsPerRank; perRankSinceStep = p.perRankSinceStep
        } else {
            perRankSinceStep = ck.step
        }
    }
}
