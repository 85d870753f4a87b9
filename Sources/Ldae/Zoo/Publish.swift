import Foundation

/// Publishing a finished run to the zoo.
extension Trainer {
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
            var pcaSHA: String? = nil, tokSHA: String? = nil
            if pca != nil, let p = tokenizerFile?.path ?? options.pcaPath {
                try FileManager.default.copyItem(atPath: p, toPath: staging + "/pca.h5")
                pcaSHA = try SHA256.hex(file: staging + "/pca.h5")
            }
            if let t = tokenizerFile, t.kind != .pca {
                try FileManager.default.copyItem(atPath: t.path, toPath: staging + "/" + Manifest.Tokenizer.fileName)
                tokSHA = try SHA256.hex(file: staging + "/" + Manifest.Tokenizer.fileName)
                guard tokSHA == t.sha256 else { throw LdaeError("changed while training (sha256 differs from the one read at the start)", file: t.path) }
            }
            try FileManager.default.copyItem(atPath: logPath, toPath: staging + "/train_log.jsonl")
            try FileManager.default.copyItem(atPath: curvePath, toPath: staging + "/loss_curve.png")
            struct RunConfig: Codable { var model: ModelConfig; var training: TrainConfig; var steps: Int; var stepsPerEpoch: Int; var data: [String]; var pca: String?; var tokenizer: String? }
            try JSON.write(RunConfig(model: options.model, training: tc, steps: totalSteps, stepsPerEpoch: loader.stepsPerEpoch,
                                     data: shards.sources, pca: pca == nil ? nil : options.pcaPath,
                                     tokenizer: tokenizerFile?.path), to: staging + "/config.json")
            var tok = Manifest.Tokenizer(kind: tc.tokenizer, latentDim: objective.latentDim, patchSize: shards.geometry.patchSize,
                                         pcaFile: pcaSHA == nil ? nil : "pca.h5", pcaSHA256: pcaSHA)
            if tokSHA != nil { tok.file = Manifest.Tokenizer.fileName; tok.sha256 = tokSHA }
            var m = Manifest(name: options.name, model: options.model, tokenizer: tok, training: tc,
                             data: .init(indexSHA256: shards.indexSHA256, images: shards.count, sources: shards.sources, classNames: shards.classNames),
                             seed: tc.seed, steps: totalSteps, epochs: Double(totalSteps) / Double(loader.stepsPerEpoch), finalLoss: lastLoss,
                             parameterCount: model.parameterCount, encoderParameterCount: model.encoderParameterCount,
                             trainSeconds: trainSeconds, weightsDtype: options.weightsDtype == .f32 ? "f32" : "f16")
            m.notes = tc.ema > 0 ? "weights are the EMA (decay \(tc.ema)) of the trained parameters" : ""
            m.threads = model.plan.workers
            m.trainCpuSeconds = cpuSeconds
            m.provenance = provenance()
            m.cpu = SystemInfo.cpuModel
            m.precision = model.plan.resolvedPrecision
            let published = try store.publish(staging: staging, manifest: m)
            try? ModelCard.write(dir: published.path)   // derived; `ldae-zoo eval` rewrites it
            return published
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
