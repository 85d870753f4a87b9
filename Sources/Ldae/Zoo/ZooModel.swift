import Foundation

/// A zoo entry loaded for inference: manifest, weights in an `LDAEModel`, and its PCA basis (pca tokenizer).
public final class ZooModel {
    public let ref: String            // "NAME@vN"
    public let manifest: Manifest
    public let dir: String
    public let model: LDAEModel
    public let pca: PCABasis?
    /// The entry's fitted tokenizer (kinds other than pca and pixel).
    public let tokenizer: LoadedTokenizer?

    /// Loads and verifies (sha256 of every file) the entry `ref` ("NAME", "NAME@vN") of `store`.
    public init(store: ZooStore, ref: String) throws {
        let (m, dir) = try store.load(ref, verify: true)
        self.manifest = m; self.dir = dir; self.ref = "\(m.name)@\(m.version)"
        let mpath = dir + "/" + ZooStore.manifestFile
        do { try m.model.validate() } catch let e as LdaeError { throw LdaeError(e.reason, file: mpath) }
        model = try LDAEModel(config: m.model, seed: 0)
        let wpath = dir + "/" + ZooStore.weightsFile
        let (tensors, _, _) = try Safetensors.read(wpath)
        do {   // a classifier's weights are its encoder and head (no decoder)
            if m.isClassifier { try model.loadEncoder(tensors) } else { try model.load(tensors) }
        } catch let e as LdaeError { throw LdaeError(e.reason, file: e.file ?? wpath) }
        if m.tokenizer.kind == .pca {
            let f = m.tokenizer.pcaFile ?? "pca.h5"
            guard ZooStore.isPlainFileName(f) else { throw LdaeError("PCA file name '\(f)' is not a plain file name", file: mpath) }
            let p = dir + "/" + f
            pca = try PCABasis.load(p)
        } else {
            pca = nil
        }
        if m.tokenizer.kind.isFitted {
            guard let f = m.tokenizer.file else { throw LdaeError("the manifest names no tokenizer file for its \(m.tokenizer.kind.rawValue) tokenizer", file: mpath) }
            guard ZooStore.isPlainFileName(f), !f.hasPrefix(".") else { throw LdaeError("tokenizer file name '\(f)' is not a plain file name", file: mpath) }
            tokenizer = try LoadedTokenizer.load(dir + "/" + f, geometry: m.model.geometry)
        } else { tokenizer = nil }
    }

    /// The entry's training objective (its tokenizer, latent size and recipe), for denoising and sampling.
    public func objective() throws -> LDAEObjective {
        if let t = tokenizer {
            return try LDAEObjective(config: manifest.training, tokenizer: try t.model(latentDim: manifest.training.latentDim), geometry: manifest.model.geometry)
        }
        return try LDAEObjective(config: manifest.training, pca: pca, geometry: manifest.model.geometry)
    }

    /// The same architecture with random weights (the `random` baseline), seed 0.
    public static func randomInit(_ config: ModelConfig, seed: UInt64 = 0) throws -> LDAEModel {
        try LDAEModel(config: config, seed: seed)
    }

    /// The encoder on clean images: token-mean features at `layers` (default: after the final norm), concatenated.
    /// With time conditioning the encoder sees timestep `featureT` (of `timesteps`), as the paper's t = 10 of 1000;
    /// otherwise t is ignored.
    public static func encoder(_ model: LDAEModel, name: String, featureT: Int, timesteps: Int = 1000,
                               layers: [FeatureLayer] = [.final], pooling: FeaturePooling = .mean) -> FeatureEncoder {
        let adaln = model.config.timeCond == .adaln
        let tv = Float(featureT) / Float(timesteps)
        let width = pooling.width(of: layers, config: model.config)
        return FeatureEncoder(name: name, width: width) { x, b, out in
            if adaln {
                let t = [Float](repeating: tv, count: b)
                t.withUnsafeBufferPointer { model.features(x, t: $0.baseAddress!, batch: b, layers: layers, pooling: pooling, out: out) }
            } else {
                model.features(x, t: nil, batch: b, layers: layers, pooling: pooling, out: out)
            }
        }
    }

    /// The features this entry recommends (manifest `features`), else the final norm's.
    public var defaultLayers: [FeatureLayer] { manifest.features?.layers ?? [.final] }
    public var defaultPooling: FeaturePooling { manifest.features?.pooling ?? .mean }
    public var defaultFlipTTA: Bool { manifest.features?.flipTTA ?? false }

    /// Shards must have the model's patch geometry.
    public func checkGeometry(_ set: ShardSet) throws {
        let g = set.geometry, c = manifest.model
        guard g.imageSize == c.imageSize, g.patchSize == c.patchSize, g.channels == c.channels else {
            throw LdaeError("shards have image_size \(g.imageSize), patch_size \(g.patchSize), channels \(g.channels) but \(ref) was trained on image_size \(c.imageSize), patch_size \(c.patchSize), channels \(c.channels)", file: set.sources[0])
        }
    }
}
