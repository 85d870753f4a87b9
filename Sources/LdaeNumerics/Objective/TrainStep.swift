import Foundation

package struct NonFiniteError: Error {
    package let what: String
    package init(what: String) { self.what = what }
}

/// One optimizer step on a batch of clean patches (shared by the trainer and the benchmark):
/// noise levels and eps from RNG(seed, stream: step) -> corrupt -> forward -> loss -> backward -> clip -> AdamW.
/// Runs under the model's `ExecutionPlan`.
public final class TrainStep {
    public let model: LDAEModel
    public let objective: LDAEObjective
    public let schedule: NoiseSchedule
    public let optimizer: AdamW
    public let config: TrainConfig
    let x: UnsafeMutablePointer<Float>      // encoder input [B, T, D]
    let noise: UnsafeMutablePointer<Float>  // noise target [B, T, D]
    let dOut: UnsafeMutablePointer<Float>   // dL/dx0_hat [B, T, D]
    var tFrac: [Float]
    public static let noiseStream: UInt64 = 0x4E4F_4953_4500_0000

    /// The processes the global batch is split over (`SingleProcess`: all of it here) and this one's images.
    public let world: any Communicator
    public let slice: BatchSlice
    /// A barrier before the gradient allreduce, so that waiting for the slowest rank is measured apart from the
    /// allreduce itself (`tools/bench mpi`).
    public let measureWait: Bool
    /// Seconds of the last step in the gradient allreduce, and waiting for the other ranks (the loss sum, which
    /// waits for the slowest forward pass, plus the barrier with `measureWait`); nil in one process.
    public var lastAllreduceSeconds: Double? { world.isDistributed ? allreduceSeconds : nil }
    public var lastWaitSeconds: Double? { world.isDistributed ? waitSeconds : nil }
    private var allreduceSeconds = 0.0, waitSeconds = 0.0

    /// `slice`: this process's images of each global batch of `config.batchSize` (`BatchSlice`, one per rank of
    /// `world`; the whole batch by default).
    public init(model: LDAEModel, objective: LDAEObjective, schedule: NoiseSchedule, optimizer: AdamW, config: TrainConfig,
                world: any Communicator = SingleProcess(), slice: BatchSlice? = nil, measureWait: Bool = false) {
        self.model = model; self.objective = objective; self.schedule = schedule; self.optimizer = optimizer; self.config = config
        self.world = world; self.slice = slice ?? .whole(config.batchSize); self.measureWait = measureWait
        let n = config.batchSize * objective.geometry.valuesPerImage
        x = .allocate(capacity: n); noise = .allocate(capacity: n); dOut = .allocate(capacity: n)
        tFrac = [Float](repeating: 0, count: config.batchSize)
    }
    deinit { x.deallocate(); noise.deallocate(); dOut.deallocate() }

    /// Returns (loss, gradient norm before clipping); throws NonFiniteError before touching the weights.
    /// The whole step runs with OpenBLAS at one thread: the kernels split work over the cores themselves, and a
    /// threaded OpenBLAS call (the objective's small PCA products) leaves its worker spinning for about 0.1 s,
    /// which would take a core from the model's first layers.
    /// labels [B] (class-conditioned models: this rank's images' labels, C = null), nil otherwise.
    package func step(x0: UnsafePointer<Float>, labels: [Int32]? = nil, step: Int, lr: Double) throws -> (Double, Double) {
        try BLAS.withOneThread { try stepBody(x0: x0, labels: labels, step: step, lr: lr) }
    }

    /// With the plan's `timesPhases`, each phase's wall time (seconds) summed under its name (for `ldae-train bench`).
    public private(set) var phaseSeconds: [String: Double] = [:]
    /// Starts the phase sums again (after warm-up steps).
    public func resetPhaseSeconds() { phaseSeconds = [:] }

    @inline(__always)
    private func phase<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard model.plan.timesPhases else { return try body() }
        let t0 = Date()
        let r = try body()
        phaseSeconds[name, default: 0] += Date().timeIntervalSince(t0)
        return r
    }

    private func stepBody(x0: UnsafePointer<Float>, labels: [Int32]?, step: Int, lr: Double) throws -> (Double, Double) {
        let B = slice.count   // the images computed here (the whole global batch in one process)
        var rng = RNG(seed: config.seed, stream: TrainStep.noiseStream &+ UInt64(step))
        let lv = objective.levels(schedule.sample(batch: config.batchSize, rng: &rng), of: slice, rng: &rng)
        for b in 0..<B { tFrac[b] = Float(lv.t[b] - 1) / Float(schedule.timesteps) }   // t in [0, 1)
        phase("corrupt") {
            objective.corrupt(x0, batch: B, gammas: lv.gammas, sigmas: lv.sigmas, rng: &rng, out: x,
                              noise: config.target == .noise ? noise : nil)
        }
        let yhat = phase("forward") { () -> UnsafePointer<Float> in
            model.zeroGrad()
            if let labels { require(labels.count == B); return labels.withUnsafeBufferPointer { model.forward(x, t: tFrac, labels: $0.baseAddress, batch: B) } }
            return model.forward(x, t: tFrac, batch: B)
        }
        let target = config.target == .noise ? UnsafePointer(noise) : x0
        var loss = phase("loss") { objective.loss(prediction: yhat, target: target, batch: B, sigmas: lv.sigmas, dPrediction: dOut) }
        loss = try phase("allreduce") { try meanOverRanks(loss) }
        guard loss.isFinite else { throw NonFiniteError(what: "loss (\(loss))") }
        phase("backward") { model.backward(dOut) }
        try phase("allreduce") { try meanGradientOverRanks() }
        let gn = phase("clip") { GradOps.clip(model.grads, count: model.parameterCount, maxNorm: config.gradClip, plan: model.plan) }
        guard gn.isFinite else { throw NonFiniteError(what: "gradient norm (\(gn))") }
        phase("adamw") { optimizer.update(params: model.params, grads: model.grads, lr: lr, plan: model.plan) }
        return (loss, gn)
    }

    // MARK: the global batch over the ranks: each rank's mean loss and gradient are averaged, before clipping, so
    // that every rank clips the same gradient and applies the same AdamW update; the loss is summed before the
    // backward pass, so a non-finite loss stops every rank at the same step. In one process both are the identity.

    /// The global batch's mean loss from this rank's mean over its images.
    private func meanOverRanks(_ local: Double) throws -> Double {
        let t0 = Date()
        var v = [local]
        try world.allreduceSum(&v)
        waitSeconds = Date().timeIntervalSince(t0)
        return v[0] / Double(slice.ranks)
    }

    /// grads <- (1/N) sum over the ranks of grads (the gradient of the global batch's mean loss).
    private func meanGradientOverRanks() throws {
        let g = model.grads, count = model.parameterCount
        if measureWait {
            let t0 = Date()
            try world.barrier()
            waitSeconds += Date().timeIntervalSince(t0)
        }
        let t0 = Date()
        try world.allreduceSum(g, count: count)
        allreduceSeconds = Date().timeIntervalSince(t0)
        guard slice.ranks > 1 else { return }
        let s = 1 / Float(slice.ranks)
        for i in 0..<count { g[i] *= s }
    }
}
