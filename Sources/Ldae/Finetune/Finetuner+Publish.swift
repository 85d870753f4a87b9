import Foundation

/// Publishing a finished fine-tuning run: a classifier entry, versioned and verified like every entry.
extension Finetuner {
    /// What config.json in the entry holds: the run as it was asked for.
    struct RunRecord: Codable {
        var parent: String
        var initEntry: String?
        var recipe: FinetuneConfig
        var head: HeadSpec
        var classNames: [String]
        var steps: Int
        var stepsPerEpoch: Int
        var data: [String]
        var commandLine: String
    }

    /// Stages weights (encoder in timm's names + head), the logs, both curves and config.json, then publishes the
    /// next free version of `options.name` with a manifest whose `classifier` section names the parent, the labels,
    /// the recipe, the CPU seconds and the validation curve.
    public func publish() throws -> (version: Int, path: String) {
        let staging = try store.makeStaging(options.name)
        do {
            let enc = classifier.config
            let meta = ["format": "pt", "ldae_model_config": String(decoding: try JSON.encode(enc, pretty: false), as: UTF8.self),
                        "ldae_classifier": String(decoding: try JSON.encode(classifier.spec, pretty: false), as: UTF8.self)]
            try Safetensors.write(classifier.exportTensors(), metadata: meta, dtype: .f32, to: staging + "/" + ZooStore.weightsFile)
            try writeLogs()
            for f in ["train_log.jsonl", "loss_curve.png", "val_curve.jsonl", "val_curve.png"] {
                try FileManager.default.copyItem(atPath: options.outDir + "/" + f, toPath: staging + "/" + f)
            }
            let initRef = initEntry.map { "\($0.name)@\($0.version)" }
            try JSON.write(RunRecord(parent: parentRef, initEntry: initRef, recipe: recipe, head: classifier.spec, classNames: classNames,
                                     steps: totalSteps, stepsPerEpoch: loader.stepsPerEpoch, data: shards.sources,
                                     commandLine: options.commandLine), to: staging + "/config.json")
            let tok = Manifest.Tokenizer(kind: .pixel, latentDim: enc.tokenDim, patchSize: enc.patchSize, pcaFile: nil, pcaSHA256: nil)
            let count = classifier.model.encoderParameterCount + classifier.headCount
            var m = Manifest(name: options.name, model: enc, tokenizer: tok, training: recipe.loaderConfig,
                             data: .init(indexSHA256: shards.indexSHA256, images: shards.count, sources: shards.sources, classNames: classNames),
                             seed: recipe.seed, steps: totalSteps, epochs: Double(totalSteps) / Double(loader.stepsPerEpoch), finalLoss: lastLoss,
                             parameterCount: count, encoderParameterCount: classifier.model.encoderParameterCount,
                             trainSeconds: trainSeconds, weightsDtype: "f32")
            m.notes = "classifier fine-tuned from \(initRef ?? "a random init of \(parentRef)'s architecture") (ldae-zoo finetune)"
            m.threads = classifier.model.plan.workers
            m.trainCpuSeconds = cpuSeconds
            m.provenance = provenance()
            m.cpu = SystemInfo.cpuModel
            m.precision = classifier.model.plan.resolvedPrecision
            m.features = Manifest.FeatureSpec(layers: classifier.spec.layers, pooling: classifier.spec.pooling, chosenBy: "the classifier head's input")
            m.classifier = ClassifierInfo(parent: parentRef, parentWeightsSHA256: parent.files[ZooStore.weightsFile] ?? "",
                                          initFrom: recipe.initFrom, initEntry: initRef, head: classifier.spec, classNames: classNames,
                                          recipe: recipe, cpuSeconds: cpuSeconds, evalCpuSeconds: evalCpuSeconds, valCurve: curve,
                                          preprocess: ClassifierInfo.Preprocess(shards))
            let published = try store.publish(staging: staging, manifest: m)
            try? ModelCard.write(dir: published.path)
            return published
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}
