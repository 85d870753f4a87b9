import Foundation
import Ldae

/// `ldae-zoo probe TRAIN.npy TEST.npy`: the linear probe and k-NN alone, on any features (labels in
/// TRAIN.labels.npy / TEST.labels.npy).
func runProbe(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["wd", "wd-grid", "probe-iters", "knn-k", "seed"], flags: ["json", "no-knn"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count == 2 else { throw UsageError("probe takes TRAIN.npy and TEST.npy") }
    let (xtr, ytr, f) = try NPY.readFeatures(a.positionals[0])
    let (xte, yte, f2) = try NPY.readFeatures(a.positionals[1])
    guard f == f2 else { throw LdaeError("test features have dim \(f2), train \(f)", file: a.positionals[1]) }
    let k = Int((ytr + yte).max() ?? 0) + 1
    var ps = LinearProbe.Settings()
    ps.maxIterations = try a.int("probe-iters", default: 100)
    ps.seed = try a.uint64("seed") ?? 0
    if let g = try parseList(a.string("wd-grid"), "wd-grid", { Double($0) }) { ps.l2Grid = g }
    if let w = try a.double("wd") { ps.l2Grid = [w] }     // a fixed weight decay: no held-out search
    let lp = try LinearProbe(settings: ps).run(train: xtr, trainLabels: ytr, test: xte, testLabels: yte, dim: f, classes: k)
    var knnS = KNNClassifier.Settings(); knnS.k = try a.int("knn-k", default: 20)
    let kn = a.flag("no-knn") ? nil : KNNClassifier(settings: knnS).run(train: xtr, trainLabels: ytr, test: xte, testLabels: yte, dim: f, classes: k)
    struct Out: Encodable { var train: Int; var test: Int; var dim: Int; var classes: Int; var linearProbe: LinearProbe.Result; var knn: KNNClassifier.Result? }
    let o = Out(train: ytr.count, test: yte.count, dim: f, classes: k, linearProbe: lp, knn: kn)
    if a.flag("json") {
        print(String(decoding: try JSON.encode(o, pretty: false), as: UTF8.self))
    } else {
        print(String(format: "linear probe: top-1 %.2f  top-5 %.2f  (wd %g, %d iterations, %.2f s)", 100 * lp.top1, 100 * lp.top5, lp.l2, lp.iterations, lp.seconds))
        if let kn { print(String(format: "k-NN (k=%d): top-1 %.2f  top-5 %.2f  (%.2f s)", kn.k, 100 * kn.top1, 100 * kn.top5, kn.seconds)) }
    }
}
