import Foundation

/// One `ldae-zoo eval` of a classifier entry: one JSON line of its evals.jsonl (format `ldae-classifier-eval`).
public struct ClassifierEvalRecord: Codable, Sendable {
    public var format: String = FormatName.classifierEval
    public var formatVersion: Int = FormatVersion.classifierEval
    public var model: String
    public var date: String
    public var seconds: Double
    /// "test" (the --test shards) or "val" (held out of --train, `HoldOut`).
    public var split: String
    public var valFraction: Double? = nil
    public var valSeed: UInt64? = nil
    public var data: EvalRecord.DataRef
    public var classNames: [String]
    public var top1: Double
    public var top5: Double
    /// Mean cross-entropy (no smoothing).
    public var loss: Double
    public var confusion: ConfusionMatrix
    /// The confusion-matrix figure written (nil with no figure folder).
    public var figure: String? = nil
    public var batch: Int
    public var seed: UInt64

    /// The classifier records of an evals.jsonl (other lines, e.g. of an older ldae, are skipped).
    public static func readAll(_ path: String) -> [ClassifierEvalRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 0x0A).compactMap { line in
            guard let r = try? JSON.decode(ClassifierEvalRecord.self, from: Data(line), file: path), r.format == FormatName.classifierEval else { return nil }
            return r
        }
    }
}

/// `ldae-zoo eval` of a classifier entry: top-1, top-5 and the confusion matrix on a labelled split (the --test shards,
/// or the split held out of --train), recorded in evals.jsonl, the figure written, the model card regenerated.
public enum ClassifierEval {
    public struct Options {
        public var train: [String] = []
        public var test: [String] = []
        /// Evaluate on the split held out of `train` instead of `test`.
        public var val: HoldOut? = nil
        public var batch = 256
        public var maxImages: Int? = nil
        public var seed: UInt64 = 0
        public var figureDir: String? = nil
        public var record = true
        public var plan = ExecutionPlan.automatic
        public init() {}
    }

    public static func run(store: ZooStore, ref: String, options o: Options) throws -> ClassifierEvalRecord {
        let t0 = Date()
        guard o.batch >= 1 else { throw UsageError("--batch must be >= 1") }
        if let m = o.maxImages, m < 1 { throw UsageError("--max-test must be >= 1") }
        let zc = try ZooClassifier(store: store, ref: ref, command: "eval of a classifier", plan: o.plan)
        let set = try ShardSet(o.val == nil ? o.test : o.train)
        guard set.labeled else { throw LdaeError("unlabeled shards cannot be evaluated (prepare them from class folders)", file: set.sources[0]) }
        let g = set.geometry, c = zc.manifest.model
        guard g.imageSize == c.imageSize, g.patchSize == c.patchSize else {
            throw LdaeError("shards have image_size \(g.imageSize), patch_size \(g.patchSize) but \(zc.ref) takes \(c.imageSize), \(c.patchSize)", file: set.sources[0])
        }
        try FinetuneChecks.sameClasses(zc.info, ref: zc.ref, shards: set)
        var pool = o.val.map { $0.split(count: set.count).val } ?? Array(0..<set.count)
        pool = FeatureExtractor.selection(count: pool.count, max: o.maxImages, seed: o.seed).map { pool[$0] }
        let labels = try set.allLabels()
        try FinetuneChecks.labelled(pool, labels: labels, classes: zc.info.head.classes, shards: set, what: o.val == nil ? "test" : "validation")
        let C = zc.info.head.classes
        var cm = ConfusionMatrix(classes: C)
        var loss = 0.0, top1 = 0, top5 = 0
        var z = [Float](repeating: 0, count: o.batch * C)
        try FeatureExtractor.forEachBatch(set, indices: pool, batch: o.batch, label: "classify (\(o.val == nil ? "test" : "val"))") { x, n, _, y in
            z.withUnsafeMutableBufferPointer { zc.logits(x, batch: n, out: $0.baseAddress!) }
            z.withUnsafeBufferPointer { zp in
                y.withUnsafeBufferPointer { loss += SoftmaxCrossEntropy.loss(logits: zp.baseAddress!, labels: $0.baseAddress!, n: n, classes: C, smoothing: 0, scale: 1, dLogits: nil) }
                for i in 0..<n {
                    let row = zp.baseAddress! + i * C, t = Int(y[i])
                    let r = SoftmaxCrossEntropy.rank(logits: row, label: t, classes: C)
                    if r < 1 { top1 += 1 }
                    if r < 5 { top5 += 1 }
                    var best = 0
                    for k in 1..<C where row[k] > row[best] { best = k }
                    cm.add(truth: t, predicted: best)
                }
            }
        }
        let n = Double(max(1, pool.count))
        var rec = ClassifierEvalRecord(model: zc.ref, date: ISO8601DateFormatter().string(from: Date()), seconds: 0, split: o.val == nil ? "test" : "val",
                                       data: .init(indexSHA256: set.indexSHA256, sources: set.sources, images: set.count, used: pool.count),
                                       classNames: zc.info.classNames, top1: Double(top1) / n, top5: Double(top5) / n, loss: loss / n,
                                       confusion: cm, batch: o.batch, seed: o.seed)
        rec.valFraction = o.val?.fraction; rec.valSeed = o.val?.seed
        if let dir = o.figureDir {
            try FileUtil.makeDirectory(dir)
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let path = "\(dir)/\(zc.manifest.name)-\(zc.manifest.version)-confusion-\(rec.split)-\(stamp).png"
            try cm.writeFigure(path, classNames: zc.info.classNames, title: String(format: "%@ %@ top-1 %.1f%%", zc.ref, rec.split, 100 * rec.top1))
            rec.figure = path
        }
        rec.seconds = Date().timeIntervalSince(t0)
        if o.record {
            try store.withEntryLock(zc.dir) {
                try store.appendEval(rec, dir: zc.dir)
                try ModelCard.write(dir: zc.dir)
            }
        }
        return rec
    }

    /// The stdout summary: accuracy, loss, and each class's recall.
    public static func render(_ r: ClassifierEvalRecord) -> String {
        var s = String(format: "%@: %@ split, %d images, %d classes: top-1 %.2f%%, top-5 %.2f%%, loss %.4f\n", r.model, r.split, r.data.used,
                       r.classNames.count, 100 * r.top1, 100 * r.top5, r.loss)
        let rows = zip(r.classNames, r.confusion.recall).map { n, v in [n, v.map { String(format: "%.1f", 100 * $0) } ?? "-", "\(r.confusion.counts[r.classNames.firstIndex(of: n)!].reduce(0, +))"] }
        s += ZooListing.table(["class", "recall %", "images"], rows, rightAlign: [1, 2])
        if let f = r.figure { s += "\nconfusion matrix: \(f)" }
        s += String(format: "\n\nevaluated in %.1f s", r.seconds)
        return s
    }
}

extension ClassifierEvalRecord {
    /// Whether a line of evals.jsonl is a classifier's record (format `ldae-classifier-eval`).
    static func isOne(_ line: Data) -> Bool {
        struct Head: Decodable { var format: String? }
        return (try? JSONDecoder().decode(Head.self, from: line))?.format == FormatName.classifierEval
    }
}
