import Foundation

/// Everything `ldae-train` needs besides the recipe (TrainConfig) and the architecture (ModelConfig).
public struct TrainOptions {
    public var data: [String]
    public var pcaPath: String?
    public var model: ModelConfig
    public var train: TrainConfig
    /// Total optimizer steps; nil = epochs * steps per epoch.
    public var steps: Int? = nil
    public var name: String
    /// Run folder (checkpoint, log, loss curve); default `runs/NAME`.
    public var outDir: String
    public var resume = false
    public var publish = true
    public var zoo: String? = nil
    public var weightsDtype: Safetensors.DType = .f32
    /// Bytes of uint8 patches the loader may hold in memory (else it streams shard by shard).
    public var memoryBudget = 1 << 30
    /// Stop (checkpoint, like an interrupt) once this many steps are done: for tests and staged runs.
    public var stopAfter: Int? = nil
    public var quiet = false

    public init(data: [String], pcaPath: String?, model: ModelConfig, train: TrainConfig, name: String, outDir: String? = nil) {
        self.data = data; self.pcaPath = pcaPath; self.model = model; self.train = train; self.name = name
        self.outDir = outDir ?? "runs/" + name
    }
}

/// One line of `train_log.jsonl`.
public struct TrainLogLine: Codable, Sendable {
    public var step: Int          // 0-based index of the update
    public var epoch: Int
    public var loss: Double
    public var lr: Double
    public var gradNorm: Double
    public var imagesPerS: Double
    public var seconds: Double    // training time so far (across resumes)
}

public struct TrainResult {
    public enum Stop: Equatable { case finished, signal(Int32), stopAfter }
    public var stop: Stop
    /// Steps done (updates applied).
    public var steps: Int
    public var totalSteps: Int
    /// Losses of the steps run in this call, in order.
    public var losses: [Double]
    public var finalLoss: Double
    public var checkpoint: String
    public var published: (version: Int, path: String)?
}

/// SIGINT/SIGTERM set a flag; the trainer checkpoints at the next step boundary and stops. A second signal
/// while one is pending exits at once (the last checkpoint stays).
public enum TrainSignals {
    nonisolated(unsafe) static var pendingSignal: Int32 = 0

    public static func install() {
        for s in [SIGINT, SIGTERM] {
            signal(s) { sig in
                if TrainSignals.pendingSignal != 0 { _exit(128 + sig) }
                TrainSignals.pendingSignal = sig
            }
        }
    }
    public static var pending: Int32 { pendingSignal }
    public static func reset() { pendingSignal = 0 }
}

/// The training loop (MAE's engine_pretrain.train_one_epoch over steps): load, corrupt, forward, loss, backward,
/// clip, AdamW, EMA, log, checkpoint. Everything is validated in `init`, before any training.
public final class Trainer {
    public let options: TrainOptions
    public let shards: ShardSet
    public let pca: PCABasis?
    public let model: LDAEModel
    public let objective: LDAEObjective
    public let schedule: NoiseSchedule
    public let loader: BatchLoader
    public let optimizer: AdamW
    public let lr: LRSchedule
    public let totalSteps: Int
    public private(set) var step = 0
    public private(set) var ema: [Float]?
    private var trainSeconds = 0.0
    private var lastLoss = Double.nan
    private var log: [TrainLogLine] = []
    let slots: [Checkpoint.Slot]
    private let runLock: FolderLock

    public var checkpointPath: String { options.outDir + "/" + Checkpoint.fileName }
    public var logPath: String { options.outDir + "/train_log.jsonl" }
    public var curvePath: String { options.outDir + "/loss_curve.png" }
    /// Written after a successful publish, so that `--resume` of a finished run does not publish it twice.
    public var publishedPath: String { options.outDir + "/published.json" }

    struct PublishedRecord: Codable { var name: String; var version: Int; var path: String; var steps: Int }

    public init(_ o: TrainOptions) throws {
        options = o
        let tc = o.train
        try tc.validate()
        shards = try ShardSet(o.data)
        let g = shards.geometry
        guard o.model.imageSize == g.imageSize, o.model.patchSize == g.patchSize, o.model.channels == g.channels else {
            throw LdaeError("model config is for \(o.model.imageSize)px images with patch \(o.model.patchSize) but the shards have \(g.imageSize)px with patch \(g.patchSize)", file: shards.sources[0])
        }
        try o.model.validate()
        if tc.tokenizer == .pca || o.pcaPath != nil {
            guard let p = o.pcaPath else { throw LdaeError("the pca tokenizer needs --pca pca.h5 (from ldae-fit-pca); use --tokenizer pixel for a pixel-space DAE") }
            let basis = try PCABasis.load(p)
            guard basis.patchSize == g.patchSize, basis.channels == g.channels else {
                throw LdaeError("PCA basis has patch_size \(basis.patchSize) but the shards (\(shards.sources[0])) have patch_size \(g.patchSize)", file: p)
            }
            pca = basis
        } else { pca = nil }
        do { objective = try LDAEObjective(config: tc, pca: pca, geometry: g) } catch let e as LdaeError {
            throw LdaeError(e.reason, file: o.pcaPath)
        }
        schedule = NoiseSchedule(tc)
        loader = try BatchLoader(shards: shards, config: tc, memoryBudget: o.memoryBudget)
        totalSteps = o.steps ?? tc.epochs * loader.stepsPerEpoch
        guard totalSteps >= 1 else { throw LdaeError("nothing to train: 0 steps") }
        lr = LRSchedule(config: tc, stepsPerEpoch: loader.stepsPerEpoch, totalSteps: totalSteps)
        model = try LDAEModel(config: o.model, seed: tc.seed)
        slots = model.tensors.map { Checkpoint.Slot(name: $0.name, shape: $0.shape, offset: $0.offset, count: $0.count) }
        optimizer = AdamW(count: model.parameterCount,
                          segments: model.tensors.filter { $0.trainable }.map { .init(offset: $0.offset, count: $0.count, decay: $0.decay) },
                          beta1: tc.beta1, beta2: tc.beta2, weightDecay: tc.weightDecay)
        if tc.ema > 0 { ema = Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount)) }
        // one writer per run folder: a second ldae-train on the same --out fails at once (held while the trainer lives)
        runLock = try FolderLock.acquire(o.outDir, command: "ldae-train")
        if o.resume {
            try restore()
        } else if FileUtil.exists(checkpointPath) {
            throw LdaeError("the run folder already holds a checkpoint; pass --resume to continue it, or choose another --out", file: checkpointPath)
        }
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
        let ck = Checkpoint(step: step, totalSteps: totalSteps, adamStep: optimizer.step, seed: options.train.seed,
                            params: Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount)),
                            adamM: optimizer.m, adamV: optimizer.v, ema: ema, modelConfig: options.model, trainConfig: options.train,
                            lastLoss: lastLoss, dataIndexSHA256: shards.indexSHA256, trainSeconds: trainSeconds)
        try ck.save(checkpointPath, slots: slots)
        try writeLog()
        try writeCurve()
    }

    private func writeLog() throws {
        var d = Data()
        for l in log { d.append(try JSON.encode(l, pretty: false)); d.append(0x0A) }
        try AtomicFile.write(d, to: logPath)
    }

    private func appendLog(_ l: TrainLogLine) {
        log.append(l)
        guard let h = FileHandle(forWritingAtPath: logPath) else { return }
        defer { try? h.close() }
        h.seekToEndOfFile()
        if var d = try? JSON.encode(l, pretty: false) { d.append(0x0A); h.write(d) }
    }

    public func writeCurve() throws {
        try TrainPlots.lossCurve(log, title: "\(options.name) training loss").write(curvePath)
    }

    /// Runs steps until done, interrupted (checkpoint + .signal) or `stopAfter`; on completion publishes
    /// (unless `publish` is off). A non-finite loss throws, naming the step; the last checkpoint stays.
    public func run() throws -> TrainResult {
        let tc = options.train
        let B = tc.batchSize
        let stepper = TrainStep(model: model, objective: objective, schedule: schedule, optimizer: optimizer, config: tc)
        defer { loader.stop() }
        var losses: [Double] = []
        try writeLog()   // drops lines past the checkpoint when resuming
        let end = min(totalSteps, options.stopAfter.map { max($0, step) } ?? totalSteps)
        let progress = Progress("train", total: end - step, unit: "steps")
        progress.quiet = options.quiet
        if !options.quiet {
            eprint("ldae-train: \(options.name): \(model.parameterCount) parameters (encoder \(model.encoderParameterCount)), \(loader.trainIndices.count) images\(loader.trainIndices.count < shards.count ? " (\(shards.count - loader.trainIndices.count) held out for validation)" : ""), batch \(B), \(loader.stepsPerEpoch) steps/epoch, steps \(step)..<\(totalSteps)\(loader.inMemory ? ", data in memory" : ", streaming shards")")
        }
        loader.start(from: step, to: end)
        var stop: TrainResult.Stop = .finished
        while step < end {
            let t0 = Date()
            let batch = try loader.next()
            let rate = lr(step)
            let loss: Double, gn: Double
            do { (loss, gn) = try stepper.step(x0: batch.x0, step: step, lr: rate) } catch let e as NonFiniteError {
                let ck = FileUtil.exists(checkpointPath) ? "the last good checkpoint stays at \(checkpointPath)" : "no checkpoint was written yet"
                try? writeLog()
                throw LdaeError("non-finite \(e.what) at step \(step); training stopped (\(ck)). Lower --lr or check --clip.")
            }
            if ema != nil {
                ema!.withUnsafeMutableBufferPointer { GradOps.emaUpdate($0.baseAddress!, params: model.params, count: model.parameterCount, decay: tc.ema) }
            }
            let dt = Date().timeIntervalSince(t0)
            trainSeconds += dt
            lastLoss = loss
            losses.append(loss)
            let line = TrainLogLine(step: step, epoch: batch.epoch, loss: loss, lr: rate, gradNorm: gn, imagesPerS: Double(B) / dt, seconds: trainSeconds)
            appendLog(line)
            step += 1
            progress.advance(extra: String(format: "step %d/%d, epoch %d, loss %.4f, lr %.3g, %.1f img/s", step, totalSteps, batch.epoch, loss, rate, Double(B) / dt))
            if TrainSignals.pending != 0 { stop = .signal(TrainSignals.pending); break }
            if tc.checkpointEvery > 0 && step % tc.checkpointEvery == 0 && step < totalSteps { try saveCheckpoint() }
        }
        if stop == .finished && step < totalSteps { stop = .stopAfter }
        loader.stop()
        // a plain (non-tty) progress already printed its line at the last step; a terminal line needs its newline
        if isatty(2) != 0 || step < end { progress.finish(extra: String(format: "loss %.4f", lastLoss)) }
        try saveCheckpoint()
        var result = TrainResult(stop: stop, steps: step, totalSteps: totalSteps, losses: losses, finalLoss: lastLoss,
                                 checkpoint: checkpointPath, published: nil)
        if stop == .finished && options.publish {
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


    /// The weights users get: the EMA when it is on, else the raw parameters, in timm layout.
    public func exportWeights() -> [Safetensors.Tensor] {
        guard let e = ema else { return model.exportTensors() }
        let saved = Array(UnsafeBufferPointer(start: model.params, count: model.parameterCount))
        model.params.update(from: e, count: model.parameterCount)
        let out = model.exportTensors()
        model.params.update(from: saved, count: model.parameterCount)
        return out
    }

    /// Stages weights, pca.h5, the log, the loss curve and config.json, then publishes the next free version.
    public func publish() throws -> (version: Int, path: String) {
        let store = ZooStore.resolve(options.zoo)
        let staging = try store.makeStaging(options.name)
        do {
            let tc = options.train
            let meta = ["format": "pt", "ldae_model_config": String(decoding: try JSON.encode(options.model, pretty: false), as: UTF8.self),
                        "ldae_ema": tc.ema > 0 ? "true" : "false"]
            try Safetensors.write(exportWeights(), metadata: meta, dtype: options.weightsDtype, to: staging + "/" + ZooStore.weightsFile)
            var pcaSHA: String? = nil
            if let p = options.pcaPath {
                try FileManager.default.copyItem(atPath: p, toPath: staging + "/pca.h5")
                pcaSHA = try SHA256.hex(file: staging + "/pca.h5")
            }
            try FileManager.default.copyItem(atPath: logPath, toPath: staging + "/train_log.jsonl")
            try FileManager.default.copyItem(atPath: curvePath, toPath: staging + "/loss_curve.png")
            struct RunConfig: Codable { var model: ModelConfig; var training: TrainConfig; var steps: Int; var stepsPerEpoch: Int; var data: [String]; var pca: String? }
            try JSON.write(RunConfig(model: options.model, training: tc, steps: totalSteps, stepsPerEpoch: loader.stepsPerEpoch,
                                     data: shards.sources, pca: options.pcaPath), to: staging + "/config.json")
            let tok = Manifest.Tokenizer(kind: tc.tokenizer, latentDim: objective.latentDim, patchSize: shards.geometry.patchSize,
                                         pcaFile: pcaSHA == nil ? nil : "pca.h5", pcaSHA256: pcaSHA)
            var m = Manifest(name: options.name, model: options.model, tokenizer: tok, training: tc,
                             data: .init(indexSHA256: shards.indexSHA256, images: shards.count, sources: shards.sources, classNames: shards.classNames),
                             seed: tc.seed, steps: totalSteps, epochs: Double(totalSteps) / Double(loader.stepsPerEpoch), finalLoss: lastLoss,
                             parameterCount: model.parameterCount, encoderParameterCount: model.encoderParameterCount,
                             trainSeconds: trainSeconds, weightsDtype: options.weightsDtype == .f32 ? "f32" : "f16")
            m.notes = tc.ema > 0 ? "weights are the EMA (decay \(tc.ema)) of the trained parameters" : ""
            m.threads = Parallel.workers
            m.cpu = SystemInfo.cpuModel
            let published = try store.publish(staging: staging, manifest: m)
            try? ModelCard.write(dir: published.path)   // derived; `ldae-zoo eval` rewrites it
            return published
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}

struct NonFiniteError: Error { let what: String }

/// One optimizer step on a batch of clean patches (shared by the trainer and the benchmark):
/// noise levels and eps from RNG(seed, stream: step) -> corrupt -> forward -> loss -> backward -> clip -> AdamW.
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
    func step(x0: UnsafePointer<Float>, step: Int, lr: Double) throws -> (Double, Double) {
        try Parallel.withSingleThreadedBLAS { try stepBody(x0: x0, step: step, lr: lr) }
    }

    /// When non-nil, each phase's wall time (seconds) is added here under its name (for `ldae-train bench`).
    public var phaseSeconds: [String: Double]?
    @inline(__always)
    private func phase<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard phaseSeconds != nil else { return try body() }
        let t0 = Date()
        let r = try body()
        phaseSeconds![name, default: 0] += Date().timeIntervalSince(t0)
        return r
    }

    private func stepBody(x0: UnsafePointer<Float>, step: Int, lr: Double) throws -> (Double, Double) {
        let B = config.batchSize
        var rng = RNG(seed: config.seed, stream: TrainStep.noiseStream &+ UInt64(step))
        let lv = schedule.sample(batch: B, rng: &rng)
        for b in 0..<B { tFrac[b] = Float(lv.t[b] - 1) / Float(schedule.timesteps) }   // t in [0, 1)
        phase("corrupt") {
            objective.corrupt(x0, batch: B, gammas: lv.gammas, sigmas: lv.sigmas, rng: &rng, out: x,
                              noise: config.target == .noise ? noise : nil)
        }
        let yhat = phase("forward") { () -> UnsafePointer<Float> in
            model.zeroGrad()
            return model.forward(x, t: tFrac, batch: B)
        }
        let target = config.target == .noise ? UnsafePointer(noise) : x0
        let loss = phase("loss") { objective.loss(prediction: yhat, target: target, batch: B, sigmas: lv.sigmas, dPrediction: dOut) }
        guard loss.isFinite else { throw NonFiniteError(what: "loss (\(loss))") }
        phase("backward") { model.backward(dOut) }
        let gn = phase("clip") { GradOps.clip(model.grads, count: model.parameterCount, maxNorm: config.gradClip) }
        guard gn.isFinite else { throw NonFiniteError(what: "gradient norm (\(gn))") }
        phase("adamw") { optimizer.update(params: model.params, grads: model.grads, lr: lr) }
        return (loss, gn)
    }
}

public enum TrainPlots {
    /// The loss curve: every step's loss (light) and a running mean over ~2% of the steps (dark).
    public static func lossCurve(_ log: [TrainLogLine], title: String) -> LineChart {
        var c = LineChart(width: 720, height: 420, title: title, xLabel: "step", yLabel: "loss")
        let raw = log.map { (x: Double($0.step), y: $0.loss) }
        let w = max(1, log.count / 50)
        var smooth: [(x: Double, y: Double)] = []
        var acc = 0.0
        for (i, p) in raw.enumerated() {
            acc += p.y
            if i >= w { acc -= raw[i - w].y }
            smooth.append((p.x, acc / Double(min(i + 1, w))))
        }
        c.series = [.init(points: raw, color: (240, 160, 150), thickness: 1), .init(points: smooth, color: (190, 30, 30), thickness: 2)]
        // the first steps' loss is often 10x the rest: clip the y axis to the smoothed curve after the first 5% of
        // the steps so that the part users read (the slow decrease later) is not squashed to a flat line
        if smooth.count >= 40 {
            let later = smooth[(smooth.count / 20)...].map(\.y).filter(\.isFinite)
            if let m = later.max(), let all = raw.map(\.y).filter(\.isFinite).max(), all > 1.5 * m {
                c.yMax = 1.2 * m
                c.title += " (start clipped)"
            }
        }
        return c
    }
}
