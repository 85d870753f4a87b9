import Foundation

/// Data parallelism inside one training step (`TrainStep.distributed`; nil in a single process, whose step is
/// then exactly what it was before MPI existed). Every rank draws the random numbers of the whole global batch
/// (timesteps, flips and crops are a few per image; the noise is skipped over, `RNG.skipNormals`), computes the
/// images of its `slice`, and the ranks sum:
/// - the loss: each rank's mean over its images, averaged over the ranks = the mean over the global batch;
/// - the gradient: `MPI_Allreduce` of the flat buffer (`model.grads`, all parameters) scaled by 1/N, before
///   clipping, so every rank clips the same gradient and applies the same AdamW update.
/// The loss is summed before the backward pass, so a non-finite loss stops every rank at the same step.
public final class StepDistribution {
    public let world: Communicator
    public let slice: BatchSlice
    /// A barrier before the gradient allreduce (`LDAE_MPI_WAIT_TIMING=1`, for `tools/bench mpi`): the time spent
    /// waiting for the slowest rank is then measured apart from the allreduce itself.
    public let measureWait: Bool
    /// Seconds of the last step in the gradient allreduce, and waiting (the loss sum, which waits for the slowest
    /// rank's forward pass, plus the barrier when `measureWait`).
    public private(set) var lastAllreduceSeconds = 0.0
    public private(set) var lastWaitSeconds = 0.0

    public init(world: Communicator, slice: BatchSlice, measureWait: Bool = ProcessInfo.processInfo.environment["LDAE_MPI_WAIT_TIMING"] == "1") {
        self.world = world; self.slice = slice; self.measureWait = measureWait
    }

    /// This rank's noise levels from the global batch's; `rng` is advanced past the noise the images before the
    /// slice draw in `LDAEObjective.corrupt`.
    func localLevels(_ lv: (t: [Int], gammas: [Double], sigmas: [Double]), rng: inout RNG, normalsPerImage: Int)
        -> (t: [Int], gammas: [Double], sigmas: [Double]) {
        let r = slice.range
        rng.skipNormals(r.lowerBound * normalsPerImage)
        return (Array(lv.t[r]), Array(lv.gammas[r]), Array(lv.sigmas[r]))
    }

    /// The global batch's mean loss from this rank's mean over its images.
    func reduceLoss(_ local: Double) throws -> Double {
        let t0 = Date()
        var v = [local]
        try world.allreduceSum(&v)
        lastWaitSeconds = Date().timeIntervalSince(t0)
        return v[0] / Double(slice.ranks)
    }

    /// grads <- (1/N) sum over the ranks of grads (the gradient of the global batch's mean loss).
    func reduceGradients(_ g: UnsafeMutablePointer<Float>, count: Int) throws {
        if measureWait {
            let t0 = Date()
            try world.barrier()
            lastWaitSeconds += Date().timeIntervalSince(t0)
        }
        let t0 = Date()
        try world.allreduceSum(g, count: count)
        lastAllreduceSeconds = Date().timeIntervalSince(t0)
        let s = 1 / Float(slice.ranks)
        for i in 0..<count { g[i] *= s }
    }
}
