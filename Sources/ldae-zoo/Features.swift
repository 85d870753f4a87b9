import Foundation
import Ldae

/// `ldae-zoo features NAME[@vN] SHARDS... --out F.npy`: float32 [N, width] features (and labels when labeled).
func runFeatures(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "out", "batch", "max-images", "t", "layers", "layer", "pooling"],
                          flags: ["flip-tta", "no-flip-tta"])
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
    var enc = ZooModel.encoder(zm.model, name: "encoder", featureT: try a.int("t", default: 10),
                               timesteps: zm.manifest.training.timesteps, layers: layers, pooling: pooling)
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
}
