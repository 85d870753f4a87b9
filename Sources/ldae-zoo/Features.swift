import Foundation
import Ldae

/// `ldae-zoo features NAME[@vN] SHARDS... --out F.npy [--part i/n]`: float32 [N, width] features (and labels when
/// labeled); a part writes its block of the N images and F.part.json, for `features-merge`.
func runFeatures(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "out", "batch", "max-images", "t", "layers", "layer", "pooling", "part"],
                          flags: ["flip-tta", "no-flip-tta"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.count >= 2 else { throw UsageError("features needs NAME[@vN] and at least one SHARDS folder") }
    guard let out = a.string("out") else { throw UsageError("features needs --out F.npy") }
    let batch = try a.int("batch", default: 256)
    guard batch >= 1 else { throw UsageError("--batch must be >= 1") }
    let part = try a.part()
    let store = zooStore(a)
    let zm = try ZooModel(store: store, ref: a.positionals[0])
    let set = try ShardSet(Array(a.positionals.dropFirst()))
    try zm.checkGeometry(set)
    let maxImages = try a.int("max-images") ?? set.count
    guard maxImages >= 1 else { throw UsageError("--max-images must be >= 1") }
    let total = min(set.count, maxImages)   // the first N, in order (as tools/ref_encoder.py reads them)
    let range = part.map { ImageFolder.partRange(count: total, part: $0.index, of: $0.count) } ?? 0..<total
    let layers = try layerList(a, zm.manifest.model) ?? zm.defaultLayers
    let pooling = try a.choice("pooling", default: zm.defaultPooling)
    let featureT = try a.int("t", default: 10)
    var enc = ZooModel.encoder(zm.model, name: "encoder", featureT: featureT,
                               timesteps: zm.manifest.training.timesteps, layers: layers, pooling: pooling)
    let flip = a.flag("flip-tta") || (zm.defaultFlipTTA && !a.flag("no-flip-tta"))
    if flip { enc = enc.flipAveraged(set.geometry) }
    let f = try FeatureExtractor.extract(set, encoder: enc, batch: batch, indices: Array(range))
    try? FileManager.default.removeItem(atPath: FeatureFiles.sidecar(for: out))   // an earlier part's record no longer describes F
    try NPY.write(f.values, shape: [f.count, f.width], to: out)
    let layerNames = layers.map(\.description).joined(separator: ",")
    var msg = "wrote \(out): float32 [\(f.count), \(f.width)] features of \(zm.ref) (layers \(layerNames), \(pooling.rawValue) pooling\(flip ? ", flip-averaged" : ""))"
    if set.labeled {
        let lpath = FeatureFiles.labels(for: out)
        try AtomicFile.write(NPY.encode(f.labels, shape: [f.count]), to: lpath)
        msg += "; int32 [\(f.count)] labels: \(lpath)"
    }
    if let p = part {
        let record = FeaturePart(part: p.index, parts: p.count, images: range, imagesTotal: total, model: zm.ref,
                                 weightsSHA256: zm.manifest.files[ZooStore.weightsFile] ?? "", indexSHA256: set.indexSHA256,
                                 layers: layerNames, pooling: pooling.rawValue, flipTTA: flip, featureT: featureT,
                                 width: f.width, labeled: set.labeled)
        try JSON.write(record, to: FeatureFiles.sidecar(for: out))   // last: a part is complete once its record exists
        msg += "; part \(p.index)/\(p.count), images \(range.lowerBound)..<\(range.upperBound) of \(total): \(FeatureFiles.sidecar(for: out))"
    }
    print(msg)
}

/// `ldae-zoo features-merge PART.npy... --out F.npy`: the parts of one `features --part i/n` split, joined in part
/// order into the files the unsplit command writes.
func runFeaturesMerge(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["out"], flags: [])
    if a.wantsHelp { print(usage); return }
    guard !a.positionals.isEmpty else { throw UsageError("features-merge needs the part files (F.npy of features --part i/n)") }
    guard let out = a.string("out") else { throw UsageError("features-merge needs --out F.npy") }
    let (ref, rows) = try FeatureMerge.run(a.positionals, out: out)
    print("wrote \(out): float32 [\(rows), \(ref.width)] features of \(ref.model) from \(ref.parts) part\(ref.parts == 1 ? "" : "s")"
          + (ref.labeled ? "; int32 [\(rows)] labels: \(FeatureFiles.labels(for: out))" : ""))
}
