import Foundation

/// The training loop (MAE's engine_pretrain.train_one_epoch over steps): load, corrupt, forward, loss, backward,
/// clip, AdamW, EMA, log, checkpoint. Everything is validated in `init`, before any training.
public final class Trainer {
    public let options: TrainOptions
    public let shards: ShardSet
    public let pca: PCABasis?
    /// The tokenizer file given with --tokenizer-file (its sha256 goes into the checkpoint and the manifest).
    public let tokenizerFile: LoadedTokenizer?
    public let model: LDAEModel
    public let objective: LDAEObjective
    public let schedule: NoiseSchedule
    public let loader: BatchLoader
    public let optimizer: AdamW
    public let lr: LRSchedule
    public let totalSteps: Int
    public internal(set) var step = 0
    public internal(set) var ema: [Float]?
    var trainSeconds = 0.0
    /// CPU seconds of the steps done (restored on resume) and the process's CPU clock when this run's loop started.
    var cpuSeconds = 0.0
    private var cpuAtStart = 0.0
    /// Each rank's CPU seconds since step `perRankSinceStep` (the provenance's per-rank split).
    var cpuPerRank: [Double]
    var perRankSinceStep = 0
    /// The ranks' hosts, gathered once at the start.
    var hosts: [String] = []
    var lastLoss = Double.nan
    private var log: [TrainLogLine] = []
    let slots: [Checkpoint.Slot]
    private let runLock: FolderLock?
    /// The ranks of an MPI job (Distributed/), or a world of one. Rank 0 alone writes the run folder and publishes.
    public let world: Communicator
    /// This rank's block of each global batch (the whole batch in one process).
    let slice: BatchSlice
    /// The training images' labels (class-conditioned models only).
    let classLabels: ClassLabels?

    public var checkpointPath: String { options.outDir + "/" + Checkpoint.fileName }
    public var logPath: String { options.outDir + "/train_log.jsonl" }
    public var curvePath: String { options.outDir + "/loss_curve.png" }
    /// Written after a successful publish, so that `--resume` of a finished run does not publish it twice.
    public var publishedPath: String { options.outDir + "/published.json" }

    struct PublishedRecord: Codable { var name: String; var version: Int; var path: String; var steps: Int }

    public init(_ o: TrainOptions, world: Communicator = .single) throws {
        options = o
        self.world = world
        let tc = o.train
        try o.validate()
        slice = try BatchSlice(globalBatch: tc.batchSize, ranks: world.size, rank: world.rank)   // MPI hook: B % ranks
        cpuPerRank = [Double](repeating: 0, count: world.size)
        shards = try ShardSet(o.data)
        let g = shards.geometry
        guard o.model.imageSize == g.imageSize, o.model.patchSize == g.patchSize, o.model.channels == g.channels else {
            throw LdaeError("model config is for \(o.model.imageSize)px images with patch \(o.model.patchSize) but the shards have \(g.imageSize)px with patch \(g.patchSize)", file: shards.sources[0])
        }
        if let tp = o.tokenizerPath {
            let t = try LoadedTokenizer.load(tp, geometry: g)
            guard t.kind == tc.tokenizer else {
                throw LdaeError("--tokenizer \(tc.tokenizer.rawValue) but this is a \(t.kind.rawValue) tokenizer file (leave --tokenizer out to take the file's)", file: tp)
            }
            if let fi = t.file, fi.indexSHA256 != shards.indexSHA256, !o.quiet && world.isRoot {
                eprint("ldae-train: note: \(tp) was fit on other shards (index sha256 \(fi.indexSHA256.prefix(12))...)")
            }
            tokenizerFile = t
        } else { tokenizerFile = nil }
        if let t = tokenizerFile, t.kind != .pca {
            pca = nil   // --pca is not used by another tokenizer (and not published with it)
        } else if let t = tokenizerFile, let p = t.pca {
            pca = p
        } else if tc.tokenizer == .pca || o.pcaPath != nil {
            guard let p = o.pcaPath else { throw LdaeError("the pca tokenizer needs --pca pca.h5 (from ldae-fit-pca); use --tokenizer pixel for a pixel-space DAE") }
            let basis = try PCABasis.load(p)
            guard basis.patchSize == g.patchSize, basis.channels == g.channels else {
                throw LdaeError("PCA basis has patch_size \(basis.patchSize) but the shards (\(shards.sources[0])) have patch_size \(g.patchSize)", file: p)
            }
            pca = basis
        } else { pca = nil }
        do {
            if let t = tokenizerFile {
                objective = try LDAEObjective(config: tc, tokenizer: try t.model(latentDim: tc.latentDim), geometry: g)
            } else {
                objective = try LDAEObjective(config: tc, pca: pca, geometry: g)
            }
        } catch let e as LdaeError {
            throw LdaeError(e.reason, file: e.file ?? o.tokenizerPath ?? o.pcaPath)
        }
        schedule = NoiseSchedule(tc)
        loader = try BatchLoader(shards: shards, config: tc, memoryBudget: o.memoryBudget, slice: world.isDistributed ? slice.range : nil)
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
        // one writer per run folder: a second ldae-train on the same --out fails at once (held while the trainer lives)
        // (MPI: rank 0 alone owns the run folder; the other ranks get its state in joinWorld)
        runLock = world.isRoot ? try FolderLock.acquire(o.outDir, command: "ldae-train") : nil
        if !world.isRoot {
        } else if o.resume {
            try restore()
        } else if FileUtil.exists(checkpointPath) {
            throw LdaeError("the run folder already holds a checkpoint; pass --resume to continue it, or choose another --out", file: checkpointPath)
        }
        try joinWorld()   // MPI hook (Distributed/TrainerSync.swift): first collective, same shards, rank 0's state
        hosts = try gatherHosts()
    }

    private func restore() throws {
        let ck = try Checkpoint.load(checkpointPath, slots: slots, parameterCount: model.parameterCount)
        var mine = options.train, theirs = ck.trainConfig
        mine.checkpointEvery = 0; theirs.checkpointEvery = 0
        var diffs: [String] = []
        if ck.modelConfig != options.model { diffs.append("model config") }
        if mine != theirs { diffs.append("training config") }
        if ck.totalSteps != totalSteps { diffs.append("total steps (\(ck.totalSteps) vs \(totalSteps))") }
        if ck.dataIndexSHA256 != shards.indexSHA256 { diffs.append("data (index sha256)") }
        guard diffs.isEmpty else {
            throw LdaeError("cannot resume: the checkpoint was made with a different \(diffs.joined(separator: ", "))", file: checkpointPath)
        }
        // one precision per run, so that a resumed run reproduces the uninterrupted one and its records hold one value
        let precision = model.plan.resolvedPrecision
        guard ck.precision == precision else {
            throw LdaeError("cannot resume: the checkpoint was trained with --precision \(ck.precision.rawValue) but this run resolves to \(precision.rawValue); resume with --precision \(ck.precision.rawValue)\(ck.precision == .bf16 ? " on a CPU with AVX512-BF16" : "")", file: checkpointPath)
        }
        guard ck.step <= totalSteps else { throw LdaeError("corrupt checkpoint: step \(ck.step) > total \(totalSteps)", file: checkpointPath) }
        model.params.update(from: ck.params, count: model.parameterCount)
        optimizer.m = ck.adamM; optimizer.v = ck.adamV; optimizer.step = ck.adamStep
        if options.train.ema > 0 {
            guard let e = ck.ema else { throw LdaeError("corrupt checkpoint: EMA weights are missing", file: checkpointPath) }
            ema = e
        }
        step = ck.step
        lastLoss = ck.lastLoss
        trainSeconds = ck.trainSeconds
        cpuSeconds = ck.cpuSeconds
        if let p = ck.provenance, p.cpuSecondsPerRank.count == world.size {
            cpuPerRank = p.cpuSecondsPerRank; perRankSinceStep = p.perRankSinceStep
        } else {
            perRankSinceStep = ck.step   // another number of ranks (or an older checkpoint): the split starts here
        }
        // keep the log lines of the steps the checkpoint contains
        if FileUtil.exists(logPath) {
            let text = String(decoding: try FileUtil.read(logPath), as: UTF8.self)
            for line in text.split(separator: "\n") where !line.isEmpty {
                guard let l = try? JSON.decode(TrainLogLine.self, from: Data(line.utf8), file: logPath) else { continue }
                if l.step < step { log.append(l) }
            }
        }
    }

    private func saveCheckpoint() throws {
        try checkSameWeights()   // MPI hook: every rank holds the same weights
        guard world.isRoot else { return }
        var ck = Checkpoint(step: step, totalSteps: totalSteps, adamStep: optimizer.step, seed: options.train.seed,
                            params: Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount)),
                            adamM: optimizer.m, adamV: optimizer.v, ema: ema, modelConfig: options.model, trainConfig: options.train,
                            lastLoss: lastLoss, dataIndexSHA256: shards.indexSHA256, trainSeconds: trainSeconds)
        ck.cpuSeconds = cpuSeconds
        ck.provenance = provenance()
        ck.precision = model.plan.resolvedPrecision
        try ck.save(checkpointPath, slots: slots)
        try writeLog()
        try writeCurve()
    }

    private func writeLog() throws {
        guard world.isRoot else { return }
        var d = Data()
        for l in log { d.append(try JSON.encode(l, pretty: false)); d.append(0x0A) }
        try AtomicFile.write(d, to: logPath)
    }

    private func appendLog(_ l: TrainLogLine) {
        guard world.isRoot else { return }
        log.append(l)
        guard let h = FileHandle(forWritingAtPath: logPath) else { return }
        defer { try? h.close() }
        h.seekToEndOfFile()
        if var d = try? JSON.encode(l, pretty: false) { d.append(0x0A); h.write(d) }
    }

    public func writeCurve() throws {
        guard world.isRoot else { return }
        try TrainPlots.lossCurve(log, title: "\(options.name) training loss").write(curvePath)
    }

    /// Runs steps until done, interrupted (checkpoint + .signal) or `stopAfter`; on completion publishes
    /// (unless `publish` is off). A non-finite loss throws, naming the step; the last checkpoint stays.
    public func run() throws -> TrainResult {
        let tc = options.train
        let B = tc.batchSize
        let stepper = TrainStep(model: model, objective: objective, schedule: schedule, optimizer: optimizer, config: tc)
        stepper.distributed = stepDistribution()   // MPI hook: nil in one process
        defer { loader.stop() }
        var losses: [Double] = []
        try writeLog()   // drops lines past the checkpoint when resuming
        let end = min(totalSteps, options.stopAfter.map { max($0, step) } ?? totalSteps)
        let progress = Progress("train", total: end - step, unit: "steps")
        progress.quiet = options.quiet || !world.isRoot
        if !options.quiet && world.isRoot {
            eprint("ldae-train: \(options.name): \(model.parameterCount) parameters (encoder \(model.encoderParameterCount)), \(loader.trainIndices.count) images\(loader.trainIndices.count < shards.count ? " (\(shards.count - loader.trainIndices.count) held out for validation)" : ""), batch \(B), \(loader.stepsPerEpoch) steps/epoch, steps \(step)..<\(totalSteps)\(loader.inMemory ? ", data in memory" : ", streaming shards"), \(model.plan.resolvedPrecision.rawValue) matrix products")
        }
        loader.start(from: step, to: end)
        cpuAtStart = SystemInfo.processCPUSeconds
        var stop: TrainResult.Stop = .finished
        while step < end {
            let t0 = Date()
            let batch = try loader.next()
            let rate = lr(step)
            let loss: Double, gn: Double
            let labels = classLabels.map { Array($0.batch(loader.indices(step: step), step: step)[slice.range]) }
            do { (loss, gn) = try stepper.step(x0: batch.x0, labels: labels, step: step, lr: rate) } catch let e as NonFiniteError {
                let ck = FileUtil.exists(checkpointPath) ? "the last good checkpoint stays at \(checkpointPath)" : "no checkpoint was written yet"
                try? writeLog()
                throw world.agreed(LdaeError("non-finite \(e.what) at step \(step); training stopped (\(ck)). Lower --lr or check --clip."))
            }
            if ema != nil {
                ema!.withUnsafeMutableBufferPointer { GradOps.emaUpdate($0.baseAddress!, params: model.params, count: model.parameterCount, decay: tc.ema) }
            }
            let dt = Date().timeIntervalSince(t0)
            trainSeconds += dt
            let cpuNow = SystemInfo.processCPUSeconds
            let agreed = try endOfStep(cpu: cpuNow - cpuAtStart)   // MPI hook: each rank's CPU, a signal any rank saw
            cpuSeconds += agreed.perRank.reduce(0, +)
            for r in 0..<min(cpuPerRank.count, agreed.perRank.count) { cpuPerRank[r] += agreed.perRank[r] }
            cpuAtStart = cpuNow
            lastLoss = loss
            losses.append(loss)
            var line = TrainLogLine(step: step, epoch: batch.epoch, loss: loss, lr: rate, gradNorm: gn, imagesPerS: Double(B) / dt, seconds: trainSeconds,
                                    cpuSeconds: cpuSeconds)
            if let d = stepper.distributed { line.allreduceSeconds = d.lastAllreduceSeconds; line.waitSeconds = d.lastWaitSeconds }
            appendLog(line)
            step += 1
            progress.advance(extra: String(format: "step %d/%d, epoch %d, loss %.4f, lr %.3g, %.1f img/s", step, totalSteps, batch.epoch, loss, rate, Double(B) / dt))
            let sig = agreed.signal ?? TrainSignals.pending
            if sig != 0 { stop = .signal(sig); break }
            if tc.checkpointEvery > 0 && step % tc.checkpointEvery == 0 && step < totalSteps { try saveCheckpoint() }
        }
        if stop == .finished && step < totalSteps { stop = .stopAfter }
        loader.stop()
        // a plain (non-tty) progress already printed its line at the last step; a terminal line needs its newline
        if isatty(2) != 0 || step < end { progress.finish(extra: String(format: "loss %.4f", lastLoss)) }
        try saveCheckpoint()
        var result = TrainResult(stop: stop, steps: step, totalSteps: totalSteps, losses: losses, finalLoss: lastLoss,
                                 checkpoint: checkpointPath, published: nil)
        if stop == .finished && options.publish && world.isRoot {
            if FileUtil.exists(publishedPath), let done = try? JSON.read(PublishedRecord.self, path: publishedPath),
               done.steps == totalSteps, done.name == options.name, FileUtil.exists(done.path) {
                // a finished run resumed again: it was already published; never publish a duplicate version
                if !options.quiet { eprint("ldae-train: this run was already published as \(done.name)@v\(done.version); nothing to do") }
                result.published = (done.version, done.path)
            } else {
                let p = try publish()
                try JSON.write(PublishedRecord(name: options.name, version: p.version, path: p.path, steps: totalSteps), to: publishedPath)
                result.published = p
            }
        }
        return result
    }

    /// What the manifest, the checkpoint and the card record of how this run was trained (`Provenance`).
    public func provenance() -> Provenance {
        Provenance(worldSize: world.size, threadsPerRank: model.plan.workers, launcher: world.launcher, cpuSecondsTotal: cpuSeconds,
                   cpuSecondsPerRank: cpuPerRank, perRankSinceStep: perRankSinceStep, wallSeconds: trainSeconds,
                   cpuModel: SystemInfo.cpuModel, cpuFlags: SystemInfo.vectorFlags, kernels: model.plan.gemm.rawValue,
                   precision: model.plan.resolvedPrecision, ldaeVersion: LdaeVersion.describe, commandLine: options.commandLine, hosts: hosts)
    }
}
