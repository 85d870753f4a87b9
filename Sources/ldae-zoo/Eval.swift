import Foundation
import Ldae

/// `ldae-zoo eval NAME[@vN] --train SHARDS (--test SHARDS | --val)`: probe, k-NN, denoising; recorded in evals.jsonl.
func runEval(_ argv: [String]) throws {
    let a = try Arguments(argv, options: (["zoo", "train", "test", "baseline", "knn-k", "max-train", "max-test", "batch", "t",
                                          "seed", "probe-iters", "wd-grid", "denoise-t", "denoise-images", "figures", "layers", "layer",
                                          "val-fraction", "val-seed", "pooling"] as Set<String>).union(kmeansOptions),
                          flags: ["no-record", "val", "all-layers", "knn-standardize", "flip-tta", "no-flip-tta", "kmeans-no-whiten"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 1 else { throw UsageError("eval takes one NAME[@vN]") }
    if try isClassifier(a) { return try runClassifierEval(a) }   // top-1, top-5, confusion matrix (ClassifierEval.swift)
    guard !a.strings("train").isEmpty, !a.strings("test").isEmpty || a.flag("val") else {
        throw UsageError("eval needs --train SHARDS and either --test SHARDS or --val (the split held out of --train)")
    }
    guard !(a.flag("val") && !a.strings("test").isEmpty) else { throw UsageError("give --test or --val, not both") }
    let store = zooStore(a)
    let (name, v) = try store.resolveRef(a.positionals[0])
    let (m, _) = try store.load("\(name)@v\(v)", verify: false)
    var o = try evalOptions(a, m)
    o.figureDir = a.string("figures") ?? "runs/eval/\(name)-v\(v)"
    try o.validate()
    let record = !a.flag("no-record")
    let rec = try store.evaluate("\(name)@v\(v)", options: o, record: record)
    print(Evaluation.render(rec))
    if record { print("recorded in \(store.path(name, v))/\(ZooStore.evalsFile)") }
}

/// The flags as `Evaluation.Options` for entry m (whose training gives --val's default fraction and seed).
func evalOptions(_ a: Arguments, _ m: Manifest) throws -> Evaluation.Options {
    var o = Evaluation.Options(train: a.strings("train"), test: a.strings("test"))
    o.allLayers = a.flag("all-layers"); o.knnStandardize = a.flag("knn-standardize")
    o.flipTTA = a.flag("flip-tta") ? true : a.flag("no-flip-tta") ? false : nil
    for w in a.strings("baseline").flatMap({ $0.split(separator: ",").map(String.init) }) {
        guard let b = Evaluation.Baseline(rawValue: w) else {
            throw UsageError("--baseline must be one of \(Evaluation.Baseline.choiceList), got '\(w)'")
        }
        if !o.baselines.contains(b) { o.baselines.append(b) }
    }
    o.knn.k = try a.int("knn-k", default: 20)
    o.maxTrain = try a.int("max-train"); o.maxTest = try a.int("max-test")
    o.batch = try a.int("batch", default: 256)
    o.featureT = try a.int("t", default: 10)
    o.seed = try a.uint64("seed") ?? 0
    o.probe.seed = o.seed
    o.probe.maxIterations = try a.int("probe-iters", default: 100)
    if let g = try parseList(a.string("wd-grid"), "wd-grid", { Double($0) }) { o.probe.l2Grid = g }
    if let t = try parseList(a.string("denoise-t"), "denoise-t", { Int($0) }) { o.denoiseT = t }
    o.denoiseImages = try a.int("denoise-images", default: 256)
    o.layers = try layerList(a, m.model)
    if a.string("pooling") != nil { o.pooling = try a.choice("pooling", default: FeaturePooling.mean) }
    if a.flag("val") {
        let f = try a.double("val-fraction") ?? (m.training.valFraction > 0 ? m.training.valFraction : 0.1)
        o.val = HoldOut(fraction: f, seed: try a.uint64("val-seed") ?? m.training.valSeed)
    } else if a.string("val-fraction") != nil || a.string("val-seed") != nil {
        throw UsageError("--val-fraction and --val-seed go with --val")
    }
    o.kmeans = try kmeansSettings(a, used: o.baselines.contains(.kmeans))
    return o
}

/// The `--kmeans-*` options (the `kmeans` baseline's settings; KMeansFeatures.Settings).
let kmeansOptions = ["kmeans-k", "kmeans-patch", "kmeans-whiten-eps", "kmeans-activation", "kmeans-pool", "kmeans-patches", "kmeans-iters"]

func kmeansSettings(_ a: Arguments, used: Bool) throws -> KMeansFeatures.Settings {
    var k = KMeansFeatures.Settings()
    guard used else {
        if let f = (kmeansOptions + ["kmeans-no-whiten"]).first(where: { a.string($0) != nil || a.flag($0) }) {
            throw UsageError("--\(f) goes with --baseline kmeans")
        }
        return k
    }
    k.centroids = try a.int("kmeans-k", default: k.centroids)
    k.patchSize = try a.int("kmeans-patch", default: k.patchSize)
    k.whiten = !a.flag("kmeans-no-whiten")
    k.whitenEps = try a.double("kmeans-whiten-eps", default: k.whitenEps)
    if a.flag("kmeans-no-whiten") && a.string("kmeans-whiten-eps") != nil { throw UsageError("give --kmeans-whiten-eps or --kmeans-no-whiten, not both") }
    k.activation = try a.choice("kmeans-activation", default: k.activation)
    k.pool = try a.int("kmeans-pool", default: k.pool)
    k.patches = try a.int("kmeans-patches", default: k.patches)
    k.iterations = try a.int("kmeans-iters", default: k.iterations)
    try k.validate()
    return k
}

/// Whether eval's entry is a classifier (`ldae-zoo finetune`).
func isClassifier(_ a: Arguments) throws -> Bool {
    let store = zooStore(a)
    return try store.load(a.positionals[0], verify: false).manifest.isClassifier
}

/// `ldae-zoo eval CLASSIFIER (--test SHARDS | --train SHARDS --val)`: top-1, top-5, the confusion matrix and its figure.
func runClassifierEval(_ a: Arguments) throws {
    for f in ["baseline", "layers", "layer", "pooling", "knn-k", "probe-iters", "wd-grid", "denoise-t", "denoise-images", "t"] + kmeansOptions where a.string(f) != nil {
        throw UsageError("--\(f) applies to an encoder's probe, not to a classifier entry")
    }
    for f in ["all-layers", "knn-standardize", "flip-tta", "no-flip-tta", "kmeans-no-whiten"] where a.flag(f) {
        throw UsageError("--\(f) applies to an encoder's probe, not to a classifier entry")
    }
    guard !a.strings("test").isEmpty || (a.flag("val") && !a.strings("train").isEmpty) else {
        throw UsageError("eval of a classifier needs --test SHARDS, or --train SHARDS --val (the split held out of --train)")
    }
    guard !(a.flag("val") && !a.strings("test").isEmpty) else { throw UsageError("give --test or --val, not both") }
    let store = zooStore(a)
    let (name, v) = try store.resolveRef(a.positionals[0])
    let (m, _) = try store.load("\(name)@v\(v)", verify: false)
    var o = ClassifierEval.Options()
    o.train = a.strings("train"); o.test = a.strings("test")
    if a.flag("val") {
        let f = try a.double("val-fraction") ?? (m.training.valFraction > 0 ? m.training.valFraction : 0.1)
        o.val = HoldOut(fraction: f, seed: try a.uint64("val-seed") ?? m.training.valSeed)
        guard f > 0 && f < 1 else { throw UsageError("--val-fraction must be in (0, 1)") }
    } else if a.string("val-fraction") != nil || a.string("val-seed") != nil {
        throw UsageError("--val-fraction and --val-seed go with --val")
    }
    o.batch = try a.int("batch", default: 256)
    o.maxImages = try a.int("max-test")
    o.seed = try a.uint64("seed") ?? 0
    o.figureDir = a.string("figures") ?? "runs/eval/\(name)-v\(v)"
    o.record = !a.flag("no-record")
    let rec = try ClassifierEval.run(store: store, ref: "\(name)@v\(v)", options: o)
    print(ClassifierEval.render(rec))
    if o.record { print("recorded in \(store.path(name, v))/\(ZooStore.evalsFile)") }
}
