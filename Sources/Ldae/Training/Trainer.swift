import Foundation

/// One training run (MAE's main_pretrain + engine_pretrain): `init` checks everything and sets the run up (data,
/// tokenizer, model, optimizer, the run folder, a resumed checkpoint, the other ranks); `run` is the loop. Each step
/// takes a batch from the loader and the learning rate of the schedule, runs `TrainStep` (corrupt, forward, loss,
/// backward, clip, AdamW), updates the EMA, logs, and the run checkpoints every `checkpoint_every` steps and at
/// the end. Publishing to the zoo is the caller's next step (`ZooPublisher`, with `trainedRun`).
public final class Trainer {
    public let options: TrainOptions
    /// The ranks of the job (`SingleProcess` for one process); rank 0 alone writes the run folder.
    public let world: any Communicator
    public let folder: RunFolder
    public let shards: ShardSet
    public let tokenizer: RunTokenizer
    public let model: LDAEModel
    public let schedule: NoiseSchedule
    public let loader: BatchLoader
    public let optimizer: AdamW
    public let lr: LRSchedule
    public let totalSteps: Int
    public internal(set) var state: TrainState
    public internal(set) var ema: [Float]?
    let stepper: TrainStep
    let classLabels: ClassLabels?
    let slots: [Checkpoint.Slot]
    /// The hosts of the ranks (the provenance's), gathered once at the start.
    var hosts: [String] = []

    public var objective: LDAEObjective { tokenizer.objective }
    public var pca: PCABasis? { tokenizer.pca }
    public var step: Int { state.step }

    public init(_ o: TrainOptions, world: any Communicator = SingleProcess()) throws {
        options = o
        self.world = world
        let tc = o.train
        try o.validate()
        let slice = try BatchSlice(globalBatch: tc.batchSize, ranks: world.size, rank: world.rank)
        state = TrainState(ranks: world.size)
        shards = try ShardSet(o.data)
        let g = shards.geometry
        guard o.model.imageSize == g.imageSize, o.model.patchSize == g.patchSize, o.model.channels == g.channels else {
            throw LdaeError("model config is for \(o.model.imageSize)px images with patch \(o.model.patchSize) but the shards have \(g.imageSize)px with patch \(g.patchSize)", file: shards.sources[0])
        }
        let speaks = !o.quiet && world.isRoot
        tokenizer = try RunTokenizer(o, shards: shards) { if speaks { eprint($0) } }
        schedule = NoiseSchedule(tc)
        loader = try BatchLoader(shards: shards, config: tc, memoryBudget: o.memoryBudget, slice: slice.range)
        if let c = o.model.numClasses {
            classLabels = try ClassLabels(shards: shards, trainIndices: loader.trainIndices, classes: c, config: tc)
        } else { classLabels = nil }
        totalSteps = o.steps ?? tc.epochs * loader.stepsPerEpoch
        guard totalSteps >= 1 else { throw LdaeError("nothing to train: 0 steps") }
        lr = LRSchedule(config: tc, stepsPerEpoch: loader.stepsPerEpoch, totalSteps: totalSteps)
        model = try LDAEModel(config: o.model, seed: tc.seed, plan: o.plan)
        slots = model.tensors.map { Checkpoint.Slot(name: $0.name, shape: $0.shape, offset: $0.offset, count: $0.count) }
        optimizer = AdamW(count: model.parameterCount,
                          segments: model.tensors.filter { $0.trainable }.map { .init(offset: $0.offset, count: $0.count, decay: $0.decay) },
                          beta1: tc.beta1, beta2: tc.beta2, weightDecay: tc.weightDecay)
        if tc.ema > 0 { ema = Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount)) }
        stepper = TrainStep(model: model, objective: tokenizer.objective, schedule: schedule, optimizer: optimizer, config: tc,
                            world: world, slice: slice, measureWait: o.measureWait)
        folder = try RunFolder(o.outDir, writes: world.isRoot)
        if o.resume && folder.writes {
            try restore()
        } else if folder.hasCheckpoint && folder.writes {
            throw LdaeError("the run folder already holds a checkpoint; pass --resume to continue it, or choose another --out", file: folder.checkpointPath)
        }
        try world.joinTraining(shards: shards, identity: identity, state: &state, model: model, optimizer: optimizer, ema: &ema)
        hosts = try world.gatherHosts()
    }

    /// Runs steps until done, interrupted (checkpoint + .signal) or `stopAfter`. A non-finite loss throws, naming
    /// the step; the last checkpoint stays.
    public func run() throws -> TrainResult {
        let tc = options.train, B = tc.batchSize
        defer { loader.stop() }
        try folder.rewriteLog()   // drops lines past the checkpoint when resuming
        let end = min(totalSteps, options.stopAfter.map { max($0, state.step) } ?? totalSteps)
        let progress = ProgressLine("train", total: end - state.step, unit: "steps")
        progress.quiet = options.quiet || !world.isRoot
        if !progress.quiet { eprint("ldae-train: \(options.name): " + summary) }
        loader.start(from: state.step, to: end)
        var losses: [Double] = [], stop = TrainResult.Stop.finished
        var cpuAtStart = SystemInfo.processCPUSeconds
        while state.step < end {
            let t0 = Date()
            let batch = try loader.next()
            let rate = lr(state.step)
            let labels = classLabels.map { Array($0.batch(loader.indices(step: state.step), step: state.step)[stepper.slice.range]) }
            let loss: Double, gn: Double
            do { (loss, gn) = try stepper.step(x0: batch.x0, labels: labels, step: state.step, lr: rate) } catch let e as NonFiniteError {
                let ck = folder.hasCheckpoint ? "the last good checkpoint stays at \(folder.checkpointPath)" : "no checkpoint was written yet"
                try? folder.rewriteLog()
                throw world.agreed(LdaeError("non-finite \(e.what) at step \(state.step); training stopped (\(ck)). Lower --lr or check --clip."))
            }
            if ema != nil {
                ema!.withUnsafeMutableBufferPointer { GradOps.emaUpdate($0.baseAddress!, params: model.params, count: model.parameterCount, decay: tc.ema) }
            }
            let dt = Date().timeIntervalSince(t0)
            let cpuNow = SystemInfo.processCPUSeconds
            let agreed = try world.endOfStep(cpu: cpuNow - cpuAtStart)   // each rank's CPU, a signal any rank saw
            cpuAtStart = cpuNow
            state.record(loss: loss, seconds: dt, cpuPerRank: agreed.perRank)
            losses.append(loss)
            folder.append(TrainLogLine(step: state.step, epoch: batch.epoch, loss: loss, lr: rate, gradNorm: gn, imagesPerS: Double(B) / dt,
                                       seconds: state.trainSeconds, cpuSeconds: state.cpuSeconds,
                                       allreduceSeconds: stepper.lastAllreduceSeconds, waitSeconds: stepper.lastWaitSeconds))
            state.step += 1
            progress.advance(extra: String(format: "step %d/%d, epoch %d, loss %.4f, lr %.3g, %.1f img/s", state.step, totalSteps, batch.epoch, loss, rate, Double(B) / dt))
            if agreed.signal != 0 { stop = .signal(agreed.signal); break }
            if tc.checkpointEvery > 0 && state.step % tc.checkpointEvery == 0 && state.step < totalSteps { try saveCheckpoint() }
        }
        if stop == .finished && state.step < totalSteps { stop = .stopAfter }
        loader.stop()
        // a plain (non-tty) progress already printed its line at the last step; a terminal line needs its newline
        if isatty(2) != 0 || state.step < end { progress.finish(extra: String(format: "loss %.4f", state.lastLoss)) }
        try saveCheckpoint()
        return TrainResult(stop: stop, steps: state.step, totalSteps: totalSteps, losses: losses, finalLoss: state.lastLoss,
                           checkpoint: folder.checkpointPath)
    }

    /// The checkpoint of the state so far, with its log and loss curve (every rank first checks it holds the same
    /// weights).
    func saveCheckpoint() throws {
        try world.checkSameWeights(model.params, count: model.parameterCount, step: state.step)
        guard folder.writes else { return }
        var ck = Checkpoint(step: state.step, totalSteps: totalSteps, adamStep: optimizer.step, seed: options.train.seed,
                            params: Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount)),
                            adamM: optimizer.m, adamV: optimizer.v, ema: ema, modelConfig: options.model, trainConfig: options.train,
                            lastLoss: state.lastLoss, dataIndexSHA256: shards.indexSHA256, trainSeconds: state.trainSeconds)
        ck.cpuSeconds = state.cpuSeconds
        ck.provenance = provenance()
        ck.precision = model.plan.resolvedPrecision
        try folder.save(ck, slots: slots, title: "\(options.name) training loss")
    }
}
