import Foundation

/// `ldae-zoo eval`: frozen-encoder features -> linear probe + k-NN (and the same for baselines), denoising PSNR and
/// figure, as one record (the zoo appends it to the entry's evals.jsonl: `ZooStore.evaluate`). The algorithms are
/// LdaeNumerics/Probes'; this is the order they run in and what they are given.
public struct Evaluation {
    public struct Options {
        public var train: [String]
        /// Test shards; ignored when `val` is set.
        public var test: [String]
        /// Probe on the validation split held out of `train` instead of `test`.
        public var val: HoldOut? = nil
        public var baselines: [Baseline] = []
        public var batch: Int = 256
        public var maxTrain: Int? = nil
        public var maxTest: Int? = nil
        public var featureT: Int = 10
        public var seed: UInt64 = 0
        /// The model's layers (nil: the entry's recommended features, `ZooModel.defaultLayers`).
        public var layers: [FeatureLayer]? = nil
        /// Pooling of the model's tokens (nil: the entry's recommended one, else mean).
        public var pooling: FeaturePooling? = nil
        /// Also probe every layer of the model on its own (`EvalRecord.perLayer`).
        public var allLayers = false
        public var knnStandardize = false
        /// nil: the entry's recommendation.
        public var flipTTA: Bool? = nil
        public var probe = LinearProbe.Settings()
        public var knn = KNNClassifier.Settings()
        /// The `kmeans` baseline's settings (its seed is `seed`).
        public var kmeans = KMeansFeatures.Settings()
        public var denoiseT: [Int] = [100, 250, 500]
        public var denoiseImages: Int = 256
        public var figureDir: String? = nil
        public init(train: [String], test: [String]) { self.train = train; self.test = test }

        /// The options' ranges, as usage errors naming the flag.
        public func validate() throws {
            guard knn.k >= 1, batch >= 1, probe.maxIterations >= 1, !probe.l2Grid.isEmpty, probe.l2Grid.allSatisfy({ $0 >= 0 }) else {
                throw UsageError("--knn-k, --batch and --probe-iters must be >= 1, --wd-grid non-empty and >= 0")
            }
            if let m = maxTrain, m < 2 { throw UsageError("--max-train must be >= 2") }
            if let m = maxTest, m < 1 { throw UsageError("--max-test must be >= 1") }
            if let v = val, !(v.fraction > 0 && v.fraction < 1) { throw UsageError("--val-fraction must be in (0, 1)") }
            if baselines.contains(.kmeans) { try kmeans.validate() }
        }
    }
    /// The features an entry is compared with (`--baseline`): the raw pixels, the same architecture at random init,
    /// Coates, Lee & Ng's single-layer k-means features. The record keys their rows by these words.
    public enum Baseline: String, MethodOption { case pixels, random, kmeans }

    /// The two sides of a probe: shard sets and the global indices used from each.
    struct Sides { var train: ShardSet; var test: ShardSet; var trainIdx: [Int]; var testIdx: [Int] }

    /// Opens both splits and checks they can be probed together with this model.
    public static func openSplits(_ zm: ZooModel, _ o: Options) throws -> (train: ShardSet, test: ShardSet) {
        let tr = try ShardSet(o.train), te = o.val == nil ? try ShardSet(o.test) : tr
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

    /// The images each side uses: --test as a whole, or the held-out split of --train; then --max-train / --max-test
    /// as seeded random subsets.
    static func sides(_ tr: ShardSet, _ te: ShardSet, _ o: Options) -> Sides {
        func pick(_ pool: [Int], _ m: Int?, _ seed: UInt64) -> [Int] {
            FeatureExtractor.selection(count: pool.count, max: m, seed: seed).map { pool[$0] }
        }
        if let v = o.val {
            let (a, b) = v.split(count: tr.count)
            return Sides(train: tr, test: tr, trainIdx: pick(a, o.maxTrain, o.seed), testIdx: pick(b, o.maxTest, o.seed &+ 1))
        }
        return Sides(train: tr, test: te, trainIdx: pick(Array(0..<tr.count), o.maxTrain, o.seed),
                     testIdx: pick(Array(0..<te.count), o.maxTest, o.seed &+ 1))
    }

    /// Features of both sides (`flipTTA` applied).
    static func features(_ enc: FeatureEncoder, _ s: Sides, _ o: Options) throws -> (FeatureSet, FeatureSet, Double) {
        let t0 = Date()
        let e = o.flipTTA == true ? enc.flipAveraged(s.train.geometry) : enc
        let ftr = try FeatureExtractor.extract(s.train, encoder: e, batch: o.batch, indices: s.trainIdx, label: "\(enc.name) features (train)")
        let fte = try FeatureExtractor.extract(s.test, encoder: e, batch: o.batch, indices: s.testIdx, label: "\(enc.name) features (\(o.val == nil ? "test" : "val"))")
        for v in ftr.values where !v.isFinite { throw LdaeError("the \(enc.name) features contain non-finite values") }
        return (ftr, fte, Date().timeIntervalSince(t0))
    }

    /// Linear probe and k-NN on columns [lo, hi) of already extracted features.
    static func probe(_ name: String, _ ftr: FeatureSet, _ fte: FeatureSet, columns: Range<Int>, classes k: Int,
                      featureSeconds: Double, _ o: Options) throws -> EvalRecord.EncoderMetrics {
        let f = columns.count
        func cols(_ s: FeatureSet) -> [Float] {
            if columns.count == s.width { return s.values }
            var out = [Float](repeating: 0, count: s.count * f)
            for i in 0..<s.count { for j in 0..<f { out[i * f + j] = s.values[i * s.width + columns.lowerBound + j] } }
            return out
        }
        let xtr = cols(ftr), xte = cols(fte)
        eprint("\(name): linear probe on \(ftr.count) x \(f) features, \(k) classes")
        let lp = try LinearProbe(settings: o.probe, log: { eprint($0) }).run(train: xtr, trainLabels: ftr.labels, test: xte,
                                                                           testLabels: fte.labels, dim: f, classes: k)
        eprint("\(name): k-NN (k = \(o.knn.k)\(o.knnStandardize ? ", standardised" : "")) of \(fte.count) against \(ftr.count) training images")
        var ktr = xtr, kte = xte
        if o.knnStandardize {
            let st = Standardizer(fit: ktr, count: ftr.count, dim: f)
            st.apply(&ktr); st.apply(&kte)
        }
        let kn = KNNClassifier(settings: o.knn).run(train: ktr, trainLabels: ftr.labels, test: kte, testLabels: fte.labels, dim: f, classes: k)
        return .init(features: name, featureDim: f, linearProbe: lp, knn: kn, featureSeconds: featureSeconds)
    }

    static func metrics(_ enc: FeatureEncoder, _ s: Sides, _ o: Options) throws -> EvalRecord.EncoderMetrics {
        let (ftr, fte, sec) = try features(enc, s, o)
        return try probe(enc.name, ftr, fte, columns: 0..<enc.width, classes: s.train.classNames.count, featureSeconds: sec, o)
    }

    /// The `kmeans` baseline (`KMeansFeatures`): fitted on the probe's training side only (s.trainIdx), then the same
    /// features, probe and k-NN as every row; the fit's settings and times go into the record.
    static func kmeansMetrics(_ s: Sides, _ o: Options) throws -> EvalRecord.EncoderMetrics {
        eprint("kmeans: fitting on the probe's \(s.trainIdx.count) training images (never the \(o.val == nil ? "test" : "val") images)")
        let km = try KMeansFeatures.fit(s.train, indices: s.trainIdx, settings: o.kmeans, seed: o.seed, batch: o.batch, log: { eprint($0) })
        var m = try metrics(km.encoder(), s, o)
        m.kmeans = km.record
        return m
    }

    /// One row per layer of the model, from a single pass that taps them all.
    static func perLayer(_ zm: ZooModel, _ s: Sides, _ o: Options) throws -> [EvalRecord.EncoderMetrics] {
        let layers = FeatureLayer.all(zm.manifest.model)
        let pooling = o.pooling ?? zm.defaultPooling
        let enc = ZooModel.encoder(zm.model, name: "all layers", featureT: o.featureT, timesteps: zm.manifest.training.timesteps,
                                   layers: layers, pooling: pooling)
        let (ftr, fte, sec) = try features(enc, s, o)
        var rows: [EvalRecord.EncoderMetrics] = [], lo = 0
        for l in layers {
            let w = pooling.factor * zm.model.width(of: l)
            rows.append(try probe("\(l)", ftr, fte, columns: lo..<(lo + w), classes: s.train.classNames.count,
                                  featureSeconds: sec / Double(layers.count), o))
            lo += w
        }
        return rows
    }

    /// Evaluates the zoo entry `zm` (nothing is recorded here).
    public static func run(_ zm: ZooModel, options o: Options) throws -> EvalRecord {
        let t0 = Date()
        try o.validate()
        let (tr, te) = try openSplits(zm, o)
        if o.baselines.contains(.kmeans) { _ = try KMeansFeatures.mapSide(tr.geometry, o.kmeans) }   // before any work
        if let v = o.val {
            let t = zm.manifest.training
            if t.valFraction == 0 {
                eprint("note: \(zm.ref) was trained on every image of its data; its validation numbers see images it was pretrained on (without labels)")
            } else if t.valFraction != v.fraction || t.valSeed != v.seed {
                eprint("note: \(zm.ref) held out val_fraction \(t.valFraction) with val_seed \(t.valSeed); this evaluation holds out \(v.fraction) with seed \(v.seed)")
            }
        }
        var o = o
        if o.flipTTA == nil { o.flipTTA = zm.defaultFlipTTA }
        let s = sides(tr, te, o)
        let layers = o.layers ?? zm.defaultLayers, pooling = o.pooling ?? zm.defaultPooling
        let main = try metrics(ZooModel.encoder(zm.model, name: "encoder", featureT: o.featureT, timesteps: zm.manifest.training.timesteps,
                                                layers: layers, pooling: pooling), s, o)
        var baselines: [String: EvalRecord.EncoderMetrics] = [:]
        for b in o.baselines {
            switch b {
            case .kmeans: baselines[b.rawValue] = try kmeansMetrics(s, o)
            case .pixels: baselines[b.rawValue] = try metrics(.pixels(tr.geometry), s, o)
            case .random:
                let enc = ZooModel.encoder(try ZooModel.randomInit(zm.manifest.model, seed: 0), name: "random", featureT: o.featureT,
                                           timesteps: zm.manifest.training.timesteps, layers: layers, pooling: pooling)
                baselines[b.rawValue] = try metrics(enc, s, o)
            }
        }
        let rows = o.allLayers ? try perLayer(zm, s, o) : nil
        var denoising: EvalRecord.Denoising? = nil
        if o.denoiseImages > 0 && !o.denoiseT.isEmpty {
            denoising = try denoise(zm, s, o)
        }
        var settings = EvalRecord.Settings(featureT: o.featureT, batch: o.batch, maxTrain: o.maxTrain, maxTest: o.maxTest,
                                           seed: o.seed, probe: o.probe, knn: o.knn, denoiseT: o.denoiseT,
                                           denoiseImages: denoising?.images ?? 0)
        settings.knnStandardize = o.knnStandardize
        settings.flipTTA = o.flipTTA ?? false
        var rec = EvalRecord(model: zm.ref, seconds: Date().timeIntervalSince(t0),
                             train: .init(indexSHA256: tr.indexSHA256, sources: tr.sources, images: tr.count, used: s.trainIdx.count),
                             test: .init(indexSHA256: te.indexSHA256, sources: te.sources, images: te.count, used: s.testIdx.count),
                             classNames: tr.classNames, metrics: main, baselines: baselines, denoising: denoising, settings: settings)
        rec.split = o.val == nil ? .test : .val
        rec.valFraction = o.val?.fraction
        rec.valSeed = o.val?.seed
        rec.layers = layers
        rec.pooling = pooling
        rec.perLayer = rows
        return rec
    }

    /// Denoising PSNR on a seeded random subset of the probe's test side, and the figure.
    static func denoise(_ zm: ZooModel, _ s: Sides, _ o: Options) throws -> EvalRecord.Denoising {
        // Unsorted, so that the figure's first rows are spread over the classes (shards are often in class order).
        var perm = Array(0..<s.testIdx.count)
        var rng = RNG(seed: o.seed, stream: 0xde9015e)
        rng.shuffle(&perm)
        let idx = perm.prefix(o.denoiseImages).map { s.testIdx[$0] }
        let clean = try FeatureExtractor.images(s.test, indices: idx)
        let objective = try zm.objective()
        let out = try DenoiseEval.run(model: zm.model, objective: objective, schedule: NoiseSchedule(zm.manifest.training),
                                      pca: zm.pca, clean: clean, count: idx.count, levels: o.denoiseT, seed: o.seed,
                                      batch: min(o.batch, 64))
        var d = out.result
        if let dir = o.figureDir {
            try FileUtil.makeDirectory(dir)
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let path = "\(dir)/\(zm.manifest.name)-\(zm.manifest.version)-denoise-\(stamp).png"
            try DenoiseEval.writeFigure(path, clean: clean, output: out, geometry: s.test.geometry)
            d.figure = path
        }
        return d
    }

    /// The stdout table.
    public static func render(_ r: EvalRecord) -> String {
        func pct(_ v: Double) -> String { String(format: "%.2f", 100 * v) }
        let split = (r.split ?? .test).rawValue
        var layerNote = r.layers.map { $0 == [.final] ? "" : ", encoder layers \($0.map(\.description).joined(separator: ","))" } ?? ""
        if let p = r.pooling, p != .mean { layerNote += ", \(p.rawValue) pooling" }
        var s = "\(r.model): train \(r.train.used) / \(split) \(r.test.used) images, \(r.classNames.count) classes\(layerNote)"
        if r.settings.knnStandardize == true { s += ", k-NN on standardised features" }
        if r.settings.flipTTA == true { s += ", flip-averaged features" }
        s += "\n"
        func row(_ m: EvalRecord.EncoderMetrics) -> [String] {
            [m.features, "\(m.featureDim)", pct(m.linearProbe.top1), pct(m.linearProbe.top5), pct(m.knn.top1),
             m.linearProbe.l2 == 0 ? "0" : String(format: "%.0e", m.linearProbe.l2), "\(m.linearProbe.iterations)",
             String(format: "%.1f", m.featureSeconds), String(format: "%.1f", m.linearProbe.seconds)]
        }
        let header = ["features", "dim", "linear top-1", "top-5", "k-NN top-1", "probe wd", "iters", "feat s", "probe s"]
        let rows = ([r.metrics] + r.baselines.keys.sorted().map { r.baselines[$0]! }).map(row)
        s += ZooListing.table(header, rows, rightAlign: [1, 2, 3, 4, 5, 6, 7, 8])
        for m in r.baselines.values.sorted(by: { $0.features < $1.features }) {
            if let k = m.kmeans { s += "\n" + KMeansFeatures.describe(k) + String(format: "; features %.1f s", m.featureSeconds) }
        }
        if let pl = r.perLayer {
            s += "\n\nper layer (token mean of the residual stream; final = after the encoder's norm; decN = decoder block N)\n"
            s += ZooListing.table(["layer"] + header.dropFirst(), pl.map(row), rightAlign: [1, 2, 3, 4, 5, 6, 7, 8])
        }
        if let d = r.denoising {
            s += "\n\ndenoising PSNR (dB, [0,1] pixels, mean of \(d.images) \(split) images)"
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
