import Foundation
import Ldae

/// `ldae-zoo predict NAME[@vN] INPUT... --out preds.csv|logits.npy`: a classifier on image files, folders or shards.
func runPredict(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "out", "list", "top-k", "batch", "threads", "max-images"], flags: ["portable-kernels"])
    if a.wantsHelp { print(usage); return }
    guard let ref = a.positionals.first else { throw UsageError("predict needs NAME[@vN] (a classifier entry) and INPUT") }
    guard let out = a.string("out") else { throw UsageError("predict needs --out preds.csv (top-k labels) or --out logits.npy") }
    let format = try Predict.format(out, topK: try a.int("top-k", default: 5))
    let batch = try a.int("batch", default: 256)
    guard batch >= 1 else { throw UsageError("--batch must be >= 1") }
    let maxImages = try a.int("max-images")
    if let m = maxImages, m < 1 { throw UsageError("--max-images must be >= 1") }
    let plan = try zooPlan(a)
    let store = zooStore(a)
    let zc = try ZooClassifier(store: store, ref: ref, command: "predict", plan: plan)
    let inputs = try PredictInputs.resolve(Array(a.positionals.dropFirst()), list: a.string("list"), maxImages: maxImages)
    let s = try Predict.run(zc, inputs, out: out, format: format, batch: batch, workers: plan.workers, log: { eprint($0) })
    print("\(zc.ref): classified \(s.classified) of \(s.inputs) images in \(String(format: "%.1f", s.seconds)) s; wrote \(s.files.joined(separator: ", "))"
          + (s.failed.isEmpty ? "" : "; \(s.failed.count) could not be read (their rows carry the reason)"))
}
