import Foundation

/// The fine-tuning loop: batch (the loader's crops and flips), labels, drop-path masks -> forward -> label-smoothed
/// cross-entropy -> backward -> (MPI: sum over the ranks) -> clip -> AdamW with layer-wise rates; validation every
/// `eval_every` steps; log, checkpoint, stop on a signal. Everything random is a function of (seed, step).
/// What a fine-tuning run did: how it stopped, its steps and losses, its checkpoint, and the classifier entry it
/// published (nil when it did not finish, publishing is off, or on ranks other than 0).
public struct FinetuneResult {
    public var stop: TrainResult.Stop
    /// Steps done (updates applied).
    public var steps: Int
    public var totalSteps: Int
    /// Losses of the steps run in this call, in order.
    public var losses: [Double]
    public var finalLoss: Double
    public var checkpoint: String
    public var published: (version: Int, path: String)?
}

extension Finetuner {
    /// Runs steps until done, interrupted (checkpoint + .signal) or `stopAfter`; on completion publishes (unless
    /// `publish` is off). A non-finite loss throws, naming the step; the last checkpoint stays.
    public func run() throws -> FinetuneResult {
        let B = recipe.batchSize
        defer { loader.stop() }
        if step == 0 { curve = [] }   // a run resumed at step 0 validates its starting point again
        try writeLogs()   // drops lines past the checkpoint when resuming
        let end = min(totalSteps, options.stopAfter.map { max($0, step) } ?? totalSteps)
        let progress = ProgressLine("finetune", total: end - step, unit: "steps")
        progress.quiet = options.quiet || !world.isRoot
        if !options.quiet && world.isRoot {
            let start = initEntry.map { "from \($0.name)@\($0.version)" } ?? "from a random init"
            eprint("ldae-zoo finetune: \(options.name): \(parentRef)'s encoder \(start), \(classifier.spec.kind.rawValue) head on \(classifier.spec.features) features, \(classNames.count) classes; \(loader.trainIndices.count) training images, \(valImages) validation, batch \(B), \(loader.stepsPerEpoch) steps/epoch, steps \(step)..<\(totalSteps)")
        }
        cpuAtStart = SystemInfo.processCPUSeconds
        if step == 0 && curve.isEmpty { try validate(trainLoss: nil) }   // the starting point of the curve
        loader.start(from: step, to: end)
        var stop: TrainResult.Stop = .finished
        var losses: [Double] = [], since: [Double] = []
        let every = recipe.evalEvery > 0 ? recipe.evalEvery : loader.stepsPerEpoch
        while step < end {
            let t0 = Date()
            let batch = try loader.next()
            let rate = lr(step)
            let y = loader.indices(step: step)[slice.range].map { labels[$0] }
            let keep = DropPathMasks.draw(rates: classifier.dropRates, batch: B, seed: recipe.seed, step: step).slice(slice.range)
            let loss: Double, gn: Double
            do { (loss, gn) = try trainStep(batch.x0, labels: y, keep: keep, lr: rate) } catch let e as NonFiniteError {
                let ck = FileUtil.exists(checkpointPath) ? "the last good checkpoint stays at \(checkpointPath)" : "no checkpoint was written yet"
                try? writeLogs()
                throw world.agreed(LdaeError("non-finite \(e.what) at step \(step); fine-tuning stopped (\(ck)). Lower --lr or set --clip."))
            }
            let dt = Date().timeIntervalSince(t0)
            trainSeconds += dt
            let cpuNow = SystemInfo.processCPUSeconds
            let agreed = try endOfStep(cpu: cpuNow - cpuAtStart)
            cpuSeconds += agreed.perRank.reduce(0, +)
            for r in 0..<min(cpuPerRank.count, agreed.perRank.count) { cpuPerRank[r] += agreed.perRank[r] }
            cpuAtStart = cpuNow
            lastLoss = loss
            losses.append(loss); since.append(loss)
            if world.isRoot {
                log.append(TrainLogLine(step: step, epoch: batch.epoch, loss: loss, lr: rate, gradNorm: gn, imagesPerS: Double(B) / dt,
                                        seconds: trainSeconds, cpuSeconds: cpuSeconds))
                Finetuner.appendLine(log.last!, to: logPath)
            }
            step += 1
            if step % every == 0 || step == totalSteps {
                try validate(trainLoss: since.reduce(0, +) / Double(max(1, since.count)))
                since = []
            }
            let val = curve.last.map { String(format: ", val top-1 %.2f%%", 100 * $0.top1) } ?? ""
            progress.advance(extra: String(format: "step %d/%d, epoch %d, loss %.4f%@, lr %.3g, %.1f img/s", step, totalSteps, batch.epoch, loss, val, rate, Double(B) / dt))
            let sig = agreed.signal ?? TrainSignals.pending
            if sig != 0 { stop = .signal(sig); break }
            if recipe.checkpointEvery > 0 && step % recipe.checkpointEvery == 0 && step < totalSteps { try saveCheckpoint() }
        }
        if stop == .finished && step < totalSteps { stop = .stopAfter }
        loader.stop()
        if isatty(2) != 0 || step < end { progress.finish(extra: String(format: "loss %.4f", lastLoss)) }
        try saveCheckpoint()
        var result = FinetuneResult(stop: stop, steps: step, totalSteps: totalSteps, losses: losses, finalLoss: lastLoss,
                                 checkpoint: checkpointPath, published: nil)
        if stop == .finished && options.publish && world.isRoot {
            if let done = try? JSON.read(RunFolder.Published.self, path: publishedPath), done.steps == totalSteps,
               done.name == options.name, FileUtil.exists(done.path) {
                if !options.quiet { eprint("ldae-zoo finetune: this run was already published as \(done.name)@v\(done.version); nothing to do") }
                result.published = (done.version, done.path)
            } else {
                let p = try publish()
                try JSON.write(RunFolder.Published(name: options.name, version: p.version, path: p.path, steps: totalSteps), to: publishedPath)
                result.published = p
            }
        }
        return result
    }

    /// One optimizer step on this rank's images x0 [n, T, D] with their labels; returns (the global batch's mean
    /// loss, the gradient norm before clipping). Throws NonFiniteError before touching the weights.
    func trainStep(_ x0: UnsafePointer<Float>, labels y: [Int32], keep: DropPathMasks, lr rate: Double) throws -> (Double, Double) {
        try BLAS.withOneThread {
            let c = classifier, n = y.count, C = c.spec.classes, plan = c.model.plan
            c.zeroGrad()
            let z = c.forwardTrain(x0, batch: n, keep: keep)
            var loss = y.withUnsafeBufferPointer {
                SoftmaxCrossEntropy.loss(logits: z, labels: $0.baseAddress!, n: n, classes: C, smoothing: recipe.labelSmoothing,
                                         scale: 1 / Float(n), dLogits: c.logitGradient) / Double(n)
            }
            if world.isDistributed { var v = [loss]; try world.allreduceSum(&v); loss = v[0] / Double(world.size) }
            guard loss.isFinite else { throw NonFiniteError(what: "loss (\(loss))") }
            c.backward()
            let E = c.model.encoderParameterCount
            if world.isDistributed {
                let s = 1 / Float(world.size)
                try world.allreduceSum(c.model.grads, count: E)
                try world.allreduceSum(c.headGrads, count: c.headCount)
                for i in 0..<E { c.model.grads[i] *= s }
                for i in 0..<c.headCount { c.headGrads[i] *= s }
            }
            let ne = GradOps.norm(c.model.grads, count: E, plan: plan), nh = GradOps.norm(c.headGrads, count: c.headCount, plan: plan)
            let gn = (ne * ne + nh * nh).squareRoot()
            guard gn.isFinite else { throw NonFiniteError(what: "gradient norm (\(gn))") }
            if recipe.gradClip > 0 && gn > recipe.gradClip {
                let s = Float(recipe.gradClip / (gn + 1e-6))
                for i in 0..<E { c.model.grads[i] *= s }
                for i in 0..<c.headCount { c.headGrads[i] *= s }
            }
            encoderOptimizer.update(params: c.model.params, grads: c.model.grads, lr: rate, plan: plan)
            headOptimizer.update(params: c.headParams, grads: c.headGrads, lr: rate, plan: plan)
            return (loss, gn)
        }
    }

    /// Validates on the held-out split (every rank its share, the counts summed) and appends a point to the curve;
    /// its CPU time is counted apart from training's.
    func validate(trainLoss: Double?) throws {
        guard let v = validation else { return }
        let c0 = SystemInfo.processCPUSeconds
        let s = v.evaluate(classifier, batch: options.evalBatch)
        var sums = [s.loss, s.top1, s.top5, s.count, SystemInfo.processCPUSeconds - c0]
        try world.allreduceSum(&sums)
        evalCpuSeconds += sums[4]
        cpuAtStart = SystemInfo.processCPUSeconds
        let n = max(1, sums[3])
        curve.append(ValPoint(step: step, epoch: Double(step) / Double(loader.stepsPerEpoch), cpuSeconds: cpuSeconds, wallSeconds: trainSeconds,
                              images: Int(sums[3]), loss: sums[0] / n, top1: sums[1] / n, top5: sums[2] / n, trainLoss: trainLoss))
        if world.isRoot { Finetuner.appendLine(curve.last!, to: curvePath) }
    }

    /// Appends one JSON line (best effort: the file is rewritten whole at every checkpoint).
    static func appendLine<T: Encodable>(_ v: T, to path: String) {
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        defer { try? h.close() }
        h.seekToEndOfFile()
        if var d = try? JSON.encode(v, pretty: false) { d.append(0x0A); h.write(d) }
    }
}
