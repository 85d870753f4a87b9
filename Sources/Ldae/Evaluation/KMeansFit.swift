import Foundation

/// The `kmeans` baseline (`KMeansFeatures`) fitted on shards and used as a feature encoder.
extension KMeansFeatures {
    /// Fits on the images `indices` of `set` (the probe's training side): `settings.patches` patches drawn evenly over
    /// the images (image i of the n gives patches/n, the first patches % n one more; positions uniform, seeded by
    /// (seed, global index)), then whitening and k-means.
    public static func fit(_ set: ShardSet, indices: [Int], settings: Settings, seed: UInt64, batch: Int = 256,
                           plan: ExecutionPlan = .automatic, log: ((String) -> Void)? = nil) throws -> KMeansFeatures {
        try settings.validate()
        let g = set.geometry
        let t0 = Date()
        let x = try samplePatches(set, indices: indices, settings: settings, seed: seed, batch: batch)
        let f = try KMeansFeatures(fitting: x, geometry: g, images: indices.count, settings: settings, seed: seed,
                                   sampleSeconds: Date().timeIntervalSince(t0), plan: plan)
        log?(f.summary)
        return f
    }

    /// Normalised patches [settings.patches, p*p*C] of the selected images (`fit`'s sampling).
    public static func samplePatches(_ set: ShardSet, indices: [Int], settings s: Settings, seed: UInt64,
                                     batch: Int = 256) throws -> [Float] {
        let g = set.geometry, n = indices.count
        let m = try mapSide(g, s), d = s.patchSize * s.patchSize * g.channels
        guard n >= 1 else { throw LdaeError("the kmeans baseline needs training images to fit on") }
        var out = [Float](repeating: 0, count: s.patches * d)
        let per = s.patches / n, extra = s.patches % n
        let table = unpatchifyTable(g)
        var img = [Float](repeating: 0, count: g.valuesPerImage)
        var row = 0
        try FeatureExtractor.forEachBatch(set, indices: indices, batch: batch, label: "kmeans fit: patches") { x, b, pos, _ in
            for i in 0..<b {
                let p = pos + i, count = per + (p < extra ? 1 : 0)
                if count == 0 { continue }
                let src = x + i * g.valuesPerImage
                for (j, o) in table.enumerated() { img[j] = src[o] }
                var rng = RNG(seed: seed, stream: 0x7061_7463_6800 &+ UInt64(indices[p]))   // "patch" + image
                for _ in 0..<count {
                    let py = rng.below(m), px = rng.below(m)
                    out.withUnsafeMutableBufferPointer { op in
                        img.withUnsafeBufferPointer { ip in
                            im2colOne(ip.baseAddress!, side: g.imageSize, channels: g.channels, patch: s.patchSize,
                                      y: py, x: px, into: op.baseAddress! + row * d)
                        }
                    }
                    row += 1
                }
            }
        }
        require(row == s.patches)
        out.withUnsafeMutableBufferPointer { PatchNormalization.apply($0.baseAddress!, rows: s.patches, dim: d, eps: s.normEps) }
        return out
    }

    /// This fit as a `FeatureEncoder` named "kmeans".
    public func encoder(plan: ExecutionPlan = .automatic) -> FeatureEncoder {
        let f = self
        return FeatureEncoder(name: "kmeans", width: settings.width) { x, b, out in f.encode(x, batch: b, into: out, plan: plan) }
    }
}
