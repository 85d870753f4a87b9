import Foundation

/// Publishing a finished run to the zoo, the step `ldae-train` takes after training: the weights (timm layout),
/// the tokenizer's file, the log, the loss curve and config.json are staged, hashed into the manifest and renamed
/// into place as the next free version of the run's name.
public enum ZooPublisher {
    /// Publishes `run` unless its run folder records that this run (its name, its steps) is in the zoo already, as a
    /// finished run resumed again would be: then that version, with `new` false. Records what it published.
    public static func publishOnce(_ run: TrainedRun, folder: RunFolder, store: ZooStore) throws -> (version: Int, path: String, new: Bool) {
        let o = run.options
        if let done = folder.published(), done.steps == run.steps, done.name == o.name { return (done.version, done.path, false) }
        let p = try publish(run, store: store)
        try folder.recordPublished(.init(name: o.name, version: p.version, path: p.path, steps: run.steps))
        return (p.version, p.path, true)
    }

    /// Stages the run's files, then publishes the next free version of its name; the model card follows.
    public static func publish(_ run: TrainedRun, store: ZooStore) throws -> (version: Int, path: String) {
        let o = run.options, tc = o.train
        let staging = try store.makeStaging(o.name)
        do {
            let meta = ["format": "pt", "ldae_model_config": String(decoding: try JSON.encode(o.model, pretty: false), as: UTF8.self),
                        "ldae_ema": tc.ema > 0 ? "true" : "false"]
            try Safetensors.write(run.weights, metadata: meta, dtype: o.weightsDtype.safetensors, to: staging + "/" + ZooStore.weightsFile)
            var pcaSHA: String? = nil, tokSHA: String? = nil
            if run.pca != nil, let p = run.tokenizerFile?.path ?? o.pcaPath {
                try FileManager.default.copyItem(atPath: p, toPath: staging + "/pca.h5")
                pcaSHA = try SHA256.hex(file: staging + "/pca.h5")
            }
            if let t = run.tokenizerFile, t.kind != .pca {
                try FileManager.default.copyItem(atPath: t.path, toPath: staging + "/" + Manifest.Tokenizer.fileName)
                tokSHA = try SHA256.hex(file: staging + "/" + Manifest.Tokenizer.fileName)
                guard tokSHA == t.sha256 else { throw LdaeError("changed while training (sha256 differs from the one read at the start)", file: t.path) }
            }
            try FileManager.default.copyItem(atPath: run.logPath, toPath: staging + "/train_log.jsonl")
            try FileManager.default.copyItem(atPath: run.curvePath, toPath: staging + "/loss_curve.png")
            struct RunConfig: Codable { var model: ModelConfig; var training: TrainConfig; var steps: Int; var stepsPerEpoch: Int; var data: [String]; var pca: String?; var tokenizer: String? }
            try JSON.write(RunConfig(model: o.model, training: tc, steps: run.steps, stepsPerEpoch: run.stepsPerEpoch,
                                     data: run.sources, pca: run.pca == nil ? nil : o.pcaPath,
                                     tokenizer: run.tokenizerFile?.path), to: staging + "/config.json")
            var tok = Manifest.Tokenizer(kind: tc.tokenizer, latentDim: run.latentDim, patchSize: run.patchSize,
                                         pcaFile: pcaSHA == nil ? nil : "pca.h5", pcaSHA256: pcaSHA)
            if tokSHA != nil { tok.file = Manifest.Tokenizer.fileName; tok.sha256 = tokSHA }
            var m = Manifest(name: o.name, model: o.model, tokenizer: tok, training: tc,
                             data: .init(indexSHA256: run.dataIndexSHA256, images: run.images, sources: run.sources, classNames: run.classNames),
                             seed: tc.seed, steps: run.steps, epochs: Double(run.steps) / Double(run.stepsPerEpoch), finalLoss: run.finalLoss,
                             parameterCount: run.parameterCount, encoderParameterCount: run.encoderParameterCount,
                             trainSeconds: run.trainSeconds, weightsDtype: o.weightsDtype.rawValue)
            m.notes = tc.ema > 0 ? "weights are the EMA (decay \(tc.ema)) of the trained parameters" : ""
            m.threads = run.threads
            m.trainCpuSeconds = run.cpuSeconds
            m.provenance = run.provenance
            m.cpu = SystemInfo.cpuModel
            m.precision = run.precision
            let published = try store.publish(staging: staging, manifest: m)
            try? ModelCard.write(dir: published.path)   // derived; `ldae-zoo eval` rewrites it
            return published
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
