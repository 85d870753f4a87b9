import Foundation

/// The trainer's setup details and records: resuming from the run folder's checkpoint, what the ranks compare,
/// the provenance, and what publishing gets of a finished run.
extension Trainer {
    /// Continues from the run folder's checkpoint: it must be of this model, recipe, step count, data and precision.
    func restore() throws {
        let ck = try folder.loadCheckpoint(slots: slots, parameterCount: model.parameterCount)
        var mine = options.train, theirs = ck.trainConfig
        mine.checkpointEvery = 0; theirs.checkpointEvery = 0
        var diffs: [String] = []
        if ck.modelConfig != options.model { diffs.append("model config") }
        if mine != theirs { diffs.append("training config") }
        if ck.totalSteps != totalSteps { diffs.append("total steps (\(ck.totalSteps) vs \(totalSteps))") }
        if ck.dataIndexSHA256 != shards.indexSHA256 { diffs.append("data (index sha256)") }
        let path = folder.checkpointPath
        guard diffs.isEmpty else {
            throw LdaeError("cannot resume: the checkpoint was made with a different \(diffs.joined(separator: ", "))", file: path)
        }
        // one precision per run, so that a resumed run reproduces the uninterrupted one and its records hold one value
        let precision = model.plan.resolvedPrecision
        guard ck.precision == precision else {
            throw LdaeError("cannot resume: the checkpoint was trained with --precision \(ck.precision.rawValue) but this run resolves to \(precision.rawValue); resume with --precision \(ck.precision.rawValue)\(ck.precision == .bf16 ? " on a CPU with AVX512-BF16" : "")", file: path)
        }
        guard ck.step <= totalSteps else { throw LdaeError("corrupt checkpoint: step \(ck.step) > total \(totalSteps)", file: path) }
        model.params.update(from: ck.params, count: model.parameterCount)
        optimizer.m = ck.adamM; optimizer.v = ck.adamV; optimizer.step = ck.adamStep
        if options.train.ema > 0 {
            guard let e = ck.ema else { throw LdaeError("corrupt checkpoint: EMA weights are missing", file: path) }
            ema = e
        }
        state.restore(ck)
        try folder.readLog(before: state.step)
    }

    /// What every rank of a job must agree on: the model, the recipe, the steps, --resume and the precision.
    func identity() throws -> String {
        String(decoding: try JSON.encode(options.model, pretty: false), as: UTF8.self)
            + String(decoding: try JSON.encode(options.train, pretty: false), as: UTF8.self) + " steps \(totalSteps) resume \(options.resume)"
            + " precision \(model.plan.resolvedPrecision.rawValue)"
    }

    /// The run in one line (printed when it starts).
    var summary: String {
        let n = loader.trainIndices.count
        return "\(model.parameterCount) parameters (encoder \(model.encoderParameterCount)), \(n) images"
            + (n < shards.count ? " (\(shards.count - n) held out for validation)" : "")
            + ", batch \(options.train.batchSize), \(loader.stepsPerEpoch) steps/epoch, steps \(state.step)..<\(totalSteps)"
            + (loader.inMemory ? ", data in memory" : ", streaming shards") + ", \(model.plan.resolvedPrecision.rawValue) matrix products"
    }

    /// What the manifest, the checkpoint and the card record of how this run was trained (`Provenance`).
    public func provenance() -> Provenance {
        Provenance(worldSize: world.size, threadsPerRank: model.plan.workers, launcher: world.launcher, cpuSecondsTotal: state.cpuSeconds,
                   cpuSecondsPerRank: state.cpuPerRank, perRankSinceStep: state.perRankSinceStep, wallSeconds: state.trainSeconds,
                   cpuModel: SystemInfo.cpuModel, cpuFlags: SystemInfo.vectorFlags, kernels: model.plan.gemm.rawValue,
                   precision: model.plan.resolvedPrecision, ldaeVersion: LdaeVersion.describe, commandLine: options.commandLine, hosts: hosts)
    }

    /// Everything publishing needs of this run: the weights users get (the EMA when it is on, else the parameters,
    /// in timm layout), the files to copy and the records.
    public func trainedRun() -> TrainedRun {
        let weights = ema.map { e in e.withUnsafeBufferPointer { model.exportTensors(from: $0.baseAddress!) } } ?? model.exportTensors()
        return TrainedRun(options: options, steps: totalSteps, stepsPerEpoch: loader.stepsPerEpoch, weights: weights,
                          dataIndexSHA256: shards.indexSHA256, images: shards.count, sources: shards.sources, classNames: shards.classNames,
                          patchSize: shards.geometry.patchSize, pca: tokenizer.pca, tokenizerFile: tokenizer.file,
                          latentDim: objective.latentDim, logPath: folder.logPath, curvePath: folder.curvePath, finalLoss: state.lastLoss,
                          parameterCount: model.parameterCount, encoderParameterCount: model.encoderParameterCount,
                          trainSeconds: state.trainSeconds, cpuSeconds: state.cpuSeconds, threads: model.plan.workers,
                          precision: model.plan.resolvedPrecision, provenance: provenance())
    }
}
