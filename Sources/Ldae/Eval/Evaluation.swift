import Foundation

/// `ldae-zoo eval`: frozen-encoder features -> linear probe + k-NN (and the same for baselines), denoising PSNR and
/// figure; the record is appended to the entry's evals.jsonl.
public struct Evaluation {
    public struct Options {
        public var train: [String]
        public var test: [String]
        public var baselines: [String] = []
        public var batch: Int = 256
        public var maxTrain: Int? = nil
        public var maxTest: Int? = nil
        public var featureT: Int = 10
        public var seed: UInt64 = 0
        public var probe = LinearProbe.Settings()
        public var knn = KNNClassifier.Settings()
        public var denoiseT: [Int] = [100, 250, 500]
        public var denoiseImages: Int = 256
        public var figureDir: String? = nil
        public var record: Bool = true
        public init(train: [String], test: [String]) { self.train = train; self.test = test }
    }
    public static let baselineNames = ["pixels", "random"]

    /// Opens both splits and checks they can be probed together with this model.
    public static func openSplits(_ zm: ZooModel, _ o: Options) throws -> (train: ShardSet, test: ShardSet) {
        let tr = try ShardSet(o.train), te = try ShardSet(o.test)
        for s in [tr, te] {
            guard s.labeled else {
                throw LdaeError("unlabeled shards cannot be probed (prepare them from class folders: ImageFolder layout)", file: s.sources[0])
            }
            try zm.checkGeometry(s)
        }
        guard tr.classNames == te.classNames else {
            let onlyTr = tr.classNames.filter { !te.classNames.contains($0) }, onlyTe = te.classNames.filter { !tr.classNames.contains($0) }
            let diff = onlyTr.isEmpty && onlyTe.isEmpty ? "same names in a different order"
                : "only in train: [\(onlyTr.prefix(5).joined(separator: ", "))], only in test: [\(onlyTe.prefix(5).joined(separator: ", "))]"
            throw LdaeError("test classes differ from the training split's \(tr.sources[0]) (\(tr.classNames.count) vs \(te.classNames.count) classes; \(diff))", file: te.sources[0])
        }
        return (tr, te)
    }

    static func metrics(_ enc: FeatureEncoder, _ tr: ShardSet, _ te: ShardSet, _ trIdx: [Int], _ teIdx: [Int], _ o: Options) throws -> EvalRecord.EncoderMetrics {
        let t0 = Date()
        let ftr = try FeatureExtractor.extract(tr, encoder: enc, batch: o.batch, indices: trIdx, label: "\(enc.name) features (train)")
        let fte = try FeatureExtractor.extract(te, encoder: enc, batch: o.batch, indices: teIdx, label: "\(enc.name) features (test)")
        let fsec = Date().timeIntervalSince(t0)
        for v in ftr.values where !v.isFinite { throw LdaeError("the \(enc.name) features contain non-finite values") }
        let k = tr.classNames.count
        eprint("\(enc.name): linear probe on \(ftr.count) x \(enc.width) features, \(k) classes")
        let lp = try LinearProbe(settings: o.probe, log: { eprint($0) }).run(train: ftr.values, trainLabels: ftr.labels, test: fte.values,
                                                       testLabels: fte.labels, dim: enc.width, classes: k)
        eprint("\(enc.name): k-NN (k = \(o.knn.k)) of \(fte.count) test against \(ftr.count) training images")
        let kn = KNNClassifier(settings: o.knn).run(train: ftr.values, trainLabels: ftr.labels, test: fte.values,
                                                    testLabels: fte.labels, dim: enc.width, classes: k)
        return .init(features: enc.name, featureDim: enc.width, linearProbe: lp, knn: kn, featureSeconds: fsec)
    }

    public static func run(store: ZooStore, ref: String, options o: Options) throws -> EvalRecord {
        let t0 = Date()
        for b in o.baselines where !baselineNames.contains(b) {
            throw UsageError("--baseline must be one of \(baselineNames.joined(separator: ", ")), got '\(b)'")
        }
        let zm = try ZooModel(store: store, ref: ref)
        let (tr, te) = try openSplits(zm, o)
        let trIdx = FeatureExtractor.selection(count: tr.count, max: o.maxTrain, seed: o.seed)
        let teIdx = FeatureExtractor.selection(count: te.count, max: o.maxTest, seed: o.seed &+ 1)
        let main = try metrics(ZooModel.encoder(zm.model, name: "encoder", featureT: o.featureT, timesteps: zm.manifest.training.timesteps),
                               tr, te, trIdx, teIdx, o)
        var baselines: [String: EvalRecord.EncoderMetrics] = [:]
        for b in o.baselines {
            let enc: FeatureEncoder = b == "pixels" ? .pixels(tr.geometry)
                : ZooModel.encoder(try ZooModel.randomInit(zm.manifest.model, seed: 0), name: "random", featureT: o.featureT,
                                   timesteps: zm.manifest.training.timesteps)
            baselines[b] = try metrics(enc, tr, te, trIdx, teIdx, o)
        }
        var denoising: EvalRecord.Denoising? = nil
        if o.denoiseImages > 0 && !o.denoiseT.isEmpty {
            // A seeded random subset of the test images (shards are often in class order: the first N would be one class).
            // Unsorted, so that the figure's first rows are spread over the classes too.
            var perm = Array(0..<teIdx.count)
            var rng = RNG(seed: o.seed, stream: 0xde9015e)
            rng.shuffle(&perm)
            let idx = perm.prefix(o.denoiseImages).map { teIdx[$0] }
            let clean = try FeatureExtractor.images(te, indices: idx)
            let objective = try LDAEObjective(config: zm.manifest.training, pca: zm.pca, geometry: te.geometry)
            let out = try DenoiseEval.run(model: zm.model, objective: objective, schedule: NoiseSchedule(zm.manifest.training),
                                          pca: zm.pca, clean: clean, count: idx.count, levels: o.denoiseT, seed: o.seed,
                                          batch: min(o.batch, 64))
            denoising = out.result
            if let dir = o.figureDir {
                try FileUtil.makeDirectory(dir)
                let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                let path = "\(dir)/\(zm.manifest.name)-\(zm.manifest.version)-denoise-\(stamp).png"
                try DenoiseEval.writeFigure(path, clean: clean, output: out, geometry: te.geometry)
                denoising?.figure = path
            }
        }
        let settings = EvalRecord.Settings(featureT: o.featureT, batch: o.batch, maxTrain: o.maxTrain, maxTest: o.maxTest,
                                           seed: o.seed, probe: o.probe, knn: o.knn, denoiseT: o.denoiseT,
                                           denoiseImages: denoising?.images ?? 0)
        let rec = EvalRecord(model: zm.ref, seconds: Date().timeIntervalSince(t0),
                             train: .init(indexSHA256: tr.indexSHA256, sources: tr.sources, images: tr.count, used: trIdx.count),
                             test: .init(indexSHA256: te.indexSHA256, sources: te.sources, images: te.count, used: teIdx.count),
                             classNames: tr.classNames, metrics: main, baselines: baselines, denoising: denoising, settings: settings)
        if o.record { try store.appendEval(rec, dir: zm.dir) }
        return rec
    }

    /// The stdout table.
    public static func render(_ r: EvalRecord) -> String {
        func pct(_ v: Double) -> String { String(format: "%.2f", 100 * v) }
        var s = "\(r.model): train \(r.train.used) / test \(r.test.used) images, \(r.classNames.count) classes\n"
        let rows = ([r.metrics] + r.baselines.keys.sorted().map { r.baselines[$0]! }).map { m in
            [m.features, "\(m.featureDim)", pct(m.linearProbe.top1), pct(m.linearProbe.top5), pct(m.knn.top1),
             m.linearProbe.l2 == 0 ? "0" : String(format: "%.0e", m.linearProbe.l2), "\(m.linearProbe.iterations)",
             String(format: "%.1f", m.featureSeconds), String(format: "%.1f", m.linearProbe.seconds)]
        }
        s += ZooListing.table(["features", "dim", "linear top-1", "top-5", "k-NN top-1", "probe wd", "iters", "feat s", "probe s"],
                              rows, rightAlign: [1, 2, 3, 4, 5, 6, 7, 8])
        if let d = r.denoising {
            s += "\n\ndenoising PSNR (dB, [0,1] pixels, mean of \(d.images) test images)"
            if let c = d.psnrPCACeiling { s += String(format: "; PCA-only ceiling %.2f", c) }
            s += "\n" + ZooListing.table(["t", "sigma", "noisy input", "model output", "model output, top-d PCA part"], d.levels.map {
                ["\($0.t)", String(format: "%.3f", $0.sigma), String(format: "%.2f", $0.psnrNoisy), String(format: "%.2f", $0.psnrModel),
                 $0.psnrModelProjected.map { String(format: "%.2f", $0) } ?? "-"]
            }, rightAlign: [0, 1, 2, 3, 4])
            if let f = d.figure { s += "\nfigure (clean | pca | noisy, denoised per t): \(f)" }
        }
        s += String(format: "\n\nevaluated in %.1f s", r.seconds)
        return s
    }
}
