import Foundation
import Ldae

// ldae-zoo: browse, verify and evaluate the versioned local model zoo.

let usage = """
usage: ldae-zoo COMMAND [options]

commands:
  list [--json]                      every version: architecture, data, latent d, steps, loss, best eval, damage
  show NAME[@vN]                     the manifest and the evaluation history (NAME alone = newest version)
  verify NAME[@vN]                   check the sha256 of every file of the entry (exit 1 when damaged)
  features NAME[@vN] SHARDS... --out F.npy [--layers L,...] [--pooling \(FeaturePooling.choices)] [--flip-tta|--no-flip-tta] [--batch 256] [--max-images N] [--t 10]
                                     token-mean encoder features of clean images (float32 [N, width] .npy, the
                                     first N images in order; labels as F.labels.npy when labeled). Default layers:
                                     the entry's recommended ones (`show` prints them), else `final`
  eval NAME[@vN] --train SHARDS (--test SHARDS | --val [--val-fraction F] [--val-seed S])
       [--layers L,...] [--pooling \(FeaturePooling.choices)] [--all-layers] [--knn-standardize] [--flip-tta]
       [--baseline pixels|random ...] [--knn-k 20]
       [--max-train N] [--max-test N] [--batch 256] [--t 10] [--seed 0] [--probe-iters 100]
       [--wd-grid 0,1e-5,1e-4,1e-3,1e-2] [--denoise-t 100,250,500] [--denoise-images 256]
       [--figures DIR] [--no-record]
                                     linear probe (top-1/top-5), k-NN (top-1), denoising PSNR + figure; appended
                                     to the entry's evals.jsonl with the split it used (test or val)
  export NAME[@vN] --out DIR [--force]
                                     a timm / Hugging Face style folder: config.json, model.safetensors (encoder
                                     only), README.md (the model card)
  card NAME[@vN]                     (re)write and print the entry's model card, README.md
  recommend NAME@vN --layers L,... [--pooling \(FeaturePooling.choices)] [--flip-tta] [--why TEXT]
                                     record the layers `features` and `eval` use by default (manifest `features`)

  sample NAME[@vN] --out grid.png [--n 64] [--steps 50] [--sampler ddim|ddpm] [--eta E] [--seed S] [--npy F]
       [--invert SHARDS]             DDPM/DDIM samples or DDIM inversion (`ldae-zoo sample --help`)

  probe TRAIN.npy TEST.npy [--wd X | --wd-grid ...] [--probe-iters 100] [--knn-k 20] [--no-knn] [--json]
                                     the same linear probe and k-NN on any float features (labels in
                                     TRAIN.labels.npy / TEST.labels.npy, as `features` writes them)

common options:
  --zoo DIR                          zoo root (default: $LDAE_ZOO, else zoo/ at the repository root)

notes:
  layers: embed (patch + position embedding), 1..depth (residual stream after that encoder block), final (after the
  encoder's last norm: timm's pooled output), dec1..decN (after a decoder block); a list is concatenated in order.
  --pooling mean averages all tokens; grid2 / grid4 average each cell of a 2x2 / 4x4 split of the token grid
  (4x / 16x the values; coarse layout kept). --all-layers adds one row per layer. --val probes on the split held out of --train (default: the fraction and seed
  the model was trained with, else 0.1 and seed 0): the place for recipe decisions; --test is for the final number.
  --knn-standardize standardises features with the train side's mean/std before k-NN (every row alike);
  --flip-tta averages the features of each image and its mirror.
  features: the encoder sees the clean image (pixel-scaled x/127.5-1, no PCA projection); with --time-cond adaln
  it is told t = --t of 1000 (the paper's t = 10); otherwise t is ignored.
  probe: features standardised with the train split's mean/var, multinomial logistic regression fitted with
  full-batch L-BFGS (--probe-iters), weight decay picked on a held-out 10% of train, then refit on all of train.
  k-NN: cosine similarity, k = --knn-k, votes weighted by exp(sim / 0.07) (DINO).
  baselines: pixels = the raw pixel-scaled image flattened (S*S*3 values); random = the same architecture
  randomly initialised (seed 0). Both go through the same probe and k-NN.
  denoise: test images corrupted as in training at timesteps --denoise-t; PSNR of the noisy input, of the model's
  output, and the PCA-only ceiling (clean image projected to d components).
"""

func parseList<T>(_ s: String?, _ name: String, _ f: (String) -> T?) throws -> [T]? {
    guard let s else { return nil }
    return try s.split(separator: ",").map { part in
        guard let v = f(part.trimmingCharacters(in: .whitespaces)) else { throw UsageError("--\(name): cannot parse '\(part)'") }
        return v
    }
}

/// --layers (or --layer) parsed for this architecture; nil when absent.
func layerList(_ a: Arguments, _ c: ModelConfig) throws -> [FeatureLayer]? {
    guard let s = a.string("layers") ?? a.string("layer") else { return nil }
    return try FeatureLayer.list(s, config: c)
}

runCommand("ldae-zoo") {
    var argv = Array(CommandLine.arguments.dropFirst())
    guard let cmd = argv.first, !["-h", "--help", "help"].contains(cmd) else { print(usage); return }
    argv.removeFirst()
    switch cmd {
    case "list":
        let a = try Arguments(argv, options: ["zoo"], flags: ["json"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count <= 1 else { throw UsageError("list takes at most one NAME") }
        let store = ZooStore.resolve(a.string("zoo"))
        let entries = ZooListing.entries(store, name: a.positionals.first)
        if a.flag("json") {
            var d = try JSON.encode(entries)
            d.append(0x0A)
            FileHandle.standardOutput.write(d)
        } else {
            print("zoo: \(store.root)")
            print(ZooListing.render(entries))
        }

    case "show", "verify":
        let a = try Arguments(argv, options: ["zoo"], flags: [])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1 else { throw UsageError("\(cmd) takes one NAME[@vN]") }
        let store = ZooStore.resolve(a.string("zoo"))
        let ref = a.positionals[0]
        if cmd == "verify" {
            let (m, dir) = try store.load(ref, verify: true)
            print("ok: \(m.name)@\(m.version): sha256 of \(m.files.count) files verified (\(dir))")
            return
        }
        let (m, dir) = try store.load(ref, verify: false)
        var damage: String? = nil
        do { _ = try store.load("\(m.name)@\(m.version)", verify: true) } catch { damage = "\(error)" }
        print(ZooListing.show(m, dir: dir, verified: damage))

    case "features":
        let a = try Arguments(argv, options: ["zoo", "out", "batch", "max-images", "t", "layers", "layer", "pooling"], flags: ["flip-tta", "no-flip-tta"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count >= 2 else { throw UsageError("features needs NAME[@vN] and at least one SHARDS folder") }
        guard let out = a.string("out") else { throw UsageError("features needs --out F.npy") }
        let batch = try a.int("batch", default: 256)
        guard batch >= 1 else { throw UsageError("--batch must be >= 1") }
        let store = ZooStore.resolve(a.string("zoo"))
        let zm = try ZooModel(store: store, ref: a.positionals[0])
        let set = try ShardSet(Array(a.positionals.dropFirst()))
        try zm.checkGeometry(set)
        let maxImages = try a.int("max-images") ?? set.count
        guard maxImages >= 1 else { throw UsageError("--max-images must be >= 1") }
        let idx = Array(0..<min(set.count, maxImages))   // the first N, in order (as tools/ref_encoder.py reads them)
        let layers = try layerList(a, zm.manifest.model) ?? zm.defaultLayers
        let pooling = try a.choice("pooling", default: zm.defaultPooling)
        var enc = ZooModel.encoder(zm.model, name: "encoder", featureT: try a.int("t", default: 10), timesteps: zm.manifest.training.timesteps,
                                   layers: layers, pooling: pooling)
        let flip = a.flag("flip-tta") || (zm.defaultFlipTTA && !a.flag("no-flip-tta"))
        if flip { enc = enc.flipAveraged(set.geometry) }
        let f = try FeatureExtractor.extract(set, encoder: enc, batch: batch, indices: idx)
        try NPY.write(f.values, shape: [f.count, f.width], to: out)
        var msg = "wrote \(out): float32 [\(f.count), \(f.width)] features of \(zm.ref) (layers \(layers.map(\.description).joined(separator: ",")), \(pooling.rawValue) pooling\(flip ? ", flip-averaged" : ""))"
        if set.labeled {
            let lpath = (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + ".labels.npy"
            try AtomicFile.write(NPY.encode(f.labels, shape: [f.count]), to: lpath)
            msg += "; int32 [\(f.count)] labels: \(lpath)"
        }
        print(msg)

    case "eval":
        let a = try Arguments(argv, options: ["zoo", "train", "test", "baseline", "knn-k", "max-train", "max-test", "batch", "t",
                                              "seed", "probe-iters", "wd-grid", "denoise-t", "denoise-images", "figures", "layers", "layer",
                                              "val-fraction", "val-seed", "pooling"],
                              flags: ["no-record", "val", "all-layers", "knn-standardize", "flip-tta", "no-flip-tta"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1 else { throw UsageError("eval takes one NAME[@vN]") }
        guard !a.strings("train").isEmpty, !a.strings("test").isEmpty || a.flag("val") else {
            throw UsageError("eval needs --train SHARDS and either --test SHARDS or --val (the split held out of --train)")
        }
        guard !(a.flag("val") && !a.strings("test").isEmpty) else { throw UsageError("give --test or --val, not both") }
        var o = Evaluation.Options(train: a.strings("train"), test: a.strings("test"))
        o.allLayers = a.flag("all-layers"); o.knnStandardize = a.flag("knn-standardize")
        o.flipTTA = a.flag("flip-tta") ? true : a.flag("no-flip-tta") ? false : nil
        for b in a.strings("baseline").flatMap({ $0.split(separator: ",").map(String.init) }) where !o.baselines.contains(b) {
            o.baselines.append(b)
        }
        for b in o.baselines where !Evaluation.baselineNames.contains(b) {
            throw UsageError("--baseline must be one of \(Evaluation.baselineNames.joined(separator: ", ")), got '\(b)'")
        }
        o.knn.k = try a.int("knn-k", default: 20)
        o.maxTrain = try a.int("max-train"); o.maxTest = try a.int("max-test")
        o.batch = try a.int("batch", default: 256)
        o.featureT = try a.int("t", default: 10)
        o.seed = UInt64(try a.int("seed", default: 0))
        o.probe.seed = o.seed
        o.probe.maxIterations = try a.int("probe-iters", default: 100)
        if let g = try parseList(a.string("wd-grid"), "wd-grid", { Double($0) }) { o.probe.l2Grid = g }
        if let t = try parseList(a.string("denoise-t"), "denoise-t", { Int($0) }) { o.denoiseT = t }
        o.denoiseImages = try a.int("denoise-images", default: 256)
        o.record = !a.flag("no-record")
        guard o.knn.k >= 1, o.batch >= 1, o.probe.maxIterations >= 1, !o.probe.l2Grid.isEmpty, o.probe.l2Grid.allSatisfy({ $0 >= 0 }) else {
            throw UsageError("--knn-k, --batch and --probe-iters must be >= 1, --wd-grid non-empty and >= 0")
        }
        if let m = o.maxTrain, m < 2 { throw UsageError("--max-train must be >= 2") }
        if let m = o.maxTest, m < 1 { throw UsageError("--max-test must be >= 1") }
        let store = ZooStore.resolve(a.string("zoo"))
        let (name, v) = try store.resolveRef(a.positionals[0])
        let (m, _) = try store.load("\(name)@v\(v)", verify: false)
        o.layers = try layerList(a, m.model)
        if a.string("pooling") != nil { o.pooling = try a.choice("pooling", default: FeaturePooling.mean) }
        if a.flag("val") {
            let f = try a.double("val-fraction") ?? (m.training.valFraction > 0 ? m.training.valFraction : 0.1)
            let vs = try a.int("val-seed").map(UInt64.init) ?? m.training.valSeed
            guard f > 0 && f < 1 else { throw UsageError("--val-fraction must be in (0, 1)") }
            o.val = HoldOut(fraction: f, seed: vs)
        } else if a.string("val-fraction") != nil || a.string("val-seed") != nil {
            throw UsageError("--val-fraction and --val-seed go with --val")
        }
        o.figureDir = a.string("figures") ?? "runs/eval/\(name)-v\(v)"
        let rec = try Evaluation.run(store: store, ref: "\(name)@v\(v)", options: o)
        print(Evaluation.render(rec))
        if o.record { print("recorded in \(store.path(name, v))/\(ZooStore.evalsFile)") }

    case "export":
        let a = try Arguments(argv, options: ["zoo", "out"], flags: ["force"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1 else { throw UsageError("export takes one NAME[@vN]") }
        guard let out = a.string("out") else { throw UsageError("export needs --out DIR") }
        let store = ZooStore.resolve(a.string("zoo"))
        let (name, v) = try store.resolveRef(a.positionals[0])
        let r = try ZooExport.export(store: store, ref: "\(name)@v\(v)", out: out, overwrite: a.flag("force"))
        print("exported \(name)@v\(v) to \(out): \(r.files.joined(separator: ", ")) (\(r.tensors) encoder tensors)")
        print("timm: timm.create_model('\(ZooExport.timmArchitecture)', pretrained=True, pretrained_cfg_overlay=dict(file='\(out)/model.safetensors'), **model_args from config.json)")

    case "card":
        let a = try Arguments(argv, options: ["zoo"], flags: [])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1 else { throw UsageError("card takes one NAME[@vN]") }
        let store = ZooStore.resolve(a.string("zoo"))
        let (_, dir) = try store.load(a.positionals[0], verify: true)
        try ModelCard.write(dir: dir)
        print(String(decoding: try FileUtil.read(dir + "/" + ModelCard.fileName), as: UTF8.self), terminator: "")

    case "recommend":
        let a = try Arguments(argv, options: ["zoo", "layers", "layer", "why", "pooling"], flags: ["flip-tta"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 1, a.positionals[0].contains("@") else { throw UsageError("recommend takes one NAME@vN") }
        let store = ZooStore.resolve(a.string("zoo"))
        let (m, _) = try store.load(a.positionals[0], verify: true)
        guard let layers = try layerList(a, m.model) else { throw UsageError("recommend needs --layers L,...") }
        let spec = Manifest.FeatureSpec(layers: layers, pooling: try a.choice("pooling", default: FeaturePooling.mean), flipTTA: a.flag("flip-tta"), chosenBy: a.string("why") ?? "")
        try store.setFeatures(a.positionals[0], spec)
        print("\(m.name)@\(m.version): features = token mean of layers \(layers.map(\.description).joined(separator: ",")) (\(spec.pooling.rawValue) pooling, \(spec.pooling.width(of: layers, config: m.model)) values)")

    case "sample": try runSample(argv)   // Sample.swift

    case "probe":
        // The probe + k-NN alone, on any features: TRAIN.npy / TEST.npy with TRAIN.labels.npy / TEST.labels.npy.
        let a = try Arguments(argv, options: ["wd", "wd-grid", "probe-iters", "knn-k", "seed"], flags: ["json", "no-knn"])
        if a.wantsHelp { print(usage); return }
        guard a.positionals.count == 2 else { throw UsageError("probe takes TRAIN.npy and TEST.npy") }
        let (xtr, ytr, f) = try NPYReader.readFeatures(a.positionals[0])
        let (xte, yte, f2) = try NPYReader.readFeatures(a.positionals[1])
        guard f == f2 else { throw LdaeError("test features have dim \(f2), train \(f)", file: a.positionals[1]) }
        let k = Int((ytr + yte).max() ?? 0) + 1
        var ps = LinearProbe.Settings()
        ps.maxIterations = try a.int("probe-iters", default: 100)
        ps.seed = UInt64(try a.int("seed", default: 0))
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

    default:
        throw UsageError("unknown command '\(cmd)' (list, show, verify, features, eval, export, card, recommend, sample, probe)")
    }
}
