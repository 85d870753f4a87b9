import Foundation

struct NonFiniteError: Error { let what: String }

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

    public init(model: LDAEModel, objective: LDAEObjective, schedule: NoiseSchedule, optimizer: AdamW, config: TrainConfig) {
        self.model = model; self.objective = objective; self.schedule = schedule; self.optimizer = optimizer; self.config = config
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
    func step(x0: UnsafePointer<Float>, labels: [Int32]? = nil, step: Int, lr: Double) throws -> (Double, Double) {
        try BLAS.withOneThread { try stepBody(x0: x0, labels: labels, step: step, lr: lr) }
    }

    /// With the plan's `timesPhases`, each phase's wall time (seconds) summed under its name (for `ldae-train bench`).
    public private(set) var phaseSeconds: [String: Double] = [:]
    /// Starts the phase sums again (after warm-up steps).
    public func resetPhaseSeconds() { phaseSeconds = [:] }

    /// MPI hook (Distributed/StepDistribution.swift): this rank's slice of the global batch and the sums over the
    /// ranks. nil in a single process, whose step is then unchanged.
    public var distributed: StepDistribution?

    @inline(__always)
    private func phase<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard model.plan.timesPhases else { return try body() }
        let t0 = Date()
        let r = try body()
        phaseSeconds[name, default: 0] += Date().timeIntervalSince(t0)
        return r
    }

    private func stepBody(x0: UnsafePointer<Float>, labels: [Int32]?, step: Int, lr: Double) throws -> (Double, Double) {
        let B = distributed?.slice.count ?? config.batchSize   // images computed here (MPI: this rank's slice)
        var rng = RNG(seed: config.seed, stream: TrainStep.noiseStream &+ UInt64(step))
        var lv = schedule.sample(batch: config.batchSize, rng: &rng)
        if let d = distributed { lv = d.localLevels(lv, rng: &rng, normalsPerImage: objective.normalsPerImage) }   // MPI hook
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
        if let d = distributed { loss = try phase("allreduce") { try d.reduceLoss(loss) } }   // MPI hook: global mean
        guard loss.isFinite else { throw NonFiniteError(what: "loss (\(loss))") }
        phase("backward") { model.backward(dOut) }
        if let d = distributed { try phase("allreduce") { try d.reduceGradients(model.grads, count: model.parameterCount) } }   // MPI hook
        let gn = phase("clip") { GradOps.clip(model.grads, count: model.parameterCount, maxNorm: config.gradClip, plan: model.plan) }
        guard gn.isFinite else { throw NonFiniteError(what: "gradient norm (\(gn))") }
        phase("adamw") { optimizer.update(params: model.params, grads: model.grads, lr: lr, plan: model.plan) }
        return (loss, gn)
    }
}
