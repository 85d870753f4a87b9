import Foundation

/// The `kmeans` baseline: the single-layer k-means features of Coates, Lee & Ng, "An Analysis of Single-Layer Networks
/// in Unsupervised Feature Learning" (AISTATS 2011).
///
/// Fit (on the probe's training images only; the sampling from shards is Evaluation/KMeansFit.swift): random p x p patches, each brightness/contrast normalised
/// (`PatchNormalization`), ZCA-whitened (`ZCAWhitening`), clustered by k-means (`KMeans`) into K centroids.
/// Features (`KMeansFeatures+Map.swift`): every p x p patch of the image at stride 1, normalised and whitened the
/// same way, its distances z_k = ||x - c_k|| to the centroids, the "triangle" activation f_k = max(0, mean(z) - z_k)
/// (or the one-hot nearest centroid), summed over the cells of a pool x pool split of the map: pool^2 * K features.
public struct KMeansFeatures: Sendable {
    public enum Activation: String, MethodOption {
        /// f_k = max(0, mean_j z_j - z_k), z_k = ||x - c_k|| (the paper's k-means (triangle)).
        case triangle
        /// f_k = 1 for the nearest centroid, else 0 (the paper's k-means (hard)).
        case hard
    }

    /// The baseline's options (`ldae-zoo eval --kmeans-*`); recorded in the eval record.
    public struct Settings: Codable, Sendable, Equatable {
        /// Patch side p (the paper's receptive field, 6).
        public var patchSize = 6
        /// K, the number of centroids: 1,600 is the paper's 77.9% row (4,000 its best, 79.6%).
        public var centroids = 1600
        /// ZCA whitening of the normalised patches, with `whitenEps` added to the eigenvalues (0.1 in their code).
        public var whiten = true
        public var whitenEps = 0.1
        public var activation: Activation = .triangle
        /// Sum pooling over a pool x pool split of the feature map (2: the paper's quadrants).
        public var pool = 2
        /// Patches sampled for the fit (the paper: 400,000; the default is a quarter of that, for a CPU budget).
        public var patches = 100_000
        /// k-means updates at most (their code runs 50).
        public var iterations = 50
        /// Brightness/contrast normalisation: (v - mean) / sqrt(var + normEps), v in 0..255 units (10, theirs).
        public var normEps = 10.0
        public init() {}

        /// The ranges, as usage errors naming the flags.
        public func validate() throws {
            guard patchSize >= 1, centroids >= 1, pool >= 1, iterations >= 0 else {
                throw UsageError("--kmeans-patch, --kmeans-k and --kmeans-pool must be >= 1, --kmeans-iters >= 0")
            }
            guard patches >= centroids else { throw UsageError("--kmeans-patches (\(patches)) must be at least --kmeans-k (\(centroids))") }
            guard whitenEps > 0 else { throw UsageError("--kmeans-whiten-eps must be > 0") }
            guard normEps > 0 else { throw UsageError("the kmeans baseline's normalisation eps must be > 0, got \(normEps)") }
        }

        /// Features per image: pool^2 * K.
        public var width: Int { pool * pool * centroids }
    }

    /// What a fit did: its settings and seed, where its patches came from, its result and its time. Recorded with
    /// the baseline's metrics (`EvalRecord.EncoderMetrics.kmeans`).
    public struct FitRecord: Codable, Sendable {
        public var settings: Settings
        public var seed: UInt64
        /// Training images the patches were drawn from (the probe's training side, every one of them).
        public var images: Int
        public var patches: Int
        /// k-means updates run (fewer than settings.iterations when an assignment changed nothing).
        public var iterations: Int
        /// Mean squared distance of the fitted patches to their centroids.
        public var distortion: Double
        /// Empty clusters re-seeded during the fit.
        public var reseeded: Int
        /// Wall seconds: reading the images and sampling the patches; ZCA; k-means; fitSeconds = whitening + k-means.
        public var sampleSeconds: Double
        public var whitenSeconds: Double
        public var kmeansSeconds: Double
        public var fitSeconds: Double
        /// sha256 of the centroids (float32, little-endian): the same settings, seed and images give the same value.
        public var centroidsSHA256: String
    }

    public let settings: Settings
    public let geometry: PatchGeometry
    /// Values per patch: p * p * C.
    public let dim: Int
    public let whitening: ZCAWhitening?
    /// [K, dim], in the whitened space.
    public let centroids: [Float]
    public let record: FitRecord

    /// The map side (S - p + 1) for images of side S; throws when the map has fewer than `pool` positions a side.
    public static func mapSide(_ g: PatchGeometry, _ s: Settings) throws -> Int {
        let m = g.imageSize - s.patchSize + 1
        guard m >= s.pool else {
            throw UsageError("--kmeans-patch \(s.patchSize) with --kmeans-pool \(s.pool) needs images of at least \(s.patchSize + s.pool - 1) pixels a side, these have \(g.imageSize)")
        }
        return m
    }

    /// Whitening and k-means on normalised patches x [settings.patches, p*p*C] (`samplePatches`), which took
    /// `sampleSeconds` to draw (recorded).
    public init(fitting x: [Float], geometry g: PatchGeometry, images: Int, settings s: Settings, seed: UInt64,
                sampleSeconds: Double = 0, plan: ExecutionPlan = .automatic) throws {
        try s.validate()
        _ = try KMeansFeatures.mapSide(g, s)
        let d = s.patchSize * s.patchSize * g.channels, n = x.count / d
        require(x.count == n * d)
        guard n >= s.centroids else { throw LdaeError("k-means needs at least K = \(s.centroids) patches, got \(n)") }
        let t0 = Date()
        var xw = x
        var zca: ZCAWhitening? = nil
        if s.whiten {
            let z = try ZCAWhitening(fit: x, count: n, dim: d, eps: s.whitenEps)
            x.withUnsafeBufferPointer { xp in xw.withUnsafeMutableBufferPointer { z.apply(xp.baseAddress!, rows: n, into: $0.baseAddress!) } }
            zca = z
        }
        let t1 = Date()
        let km = KMeans.fit(xw, count: n, dim: d, k: s.centroids, iterations: s.iterations, seed: seed, plan: plan)
        let t2 = Date()
        settings = s; geometry = g; dim = d; whitening = zca; centroids = km.centroids
        let sha = km.centroids.withUnsafeBytes { b in var h = SHA256(); h.update(b); return h.finalize() }
        record = FitRecord(settings: s, seed: seed, images: images, patches: n, iterations: km.iterations, distortion: km.distortion,
                           reseeded: km.reseeded, sampleSeconds: sampleSeconds, whitenSeconds: t1.timeIntervalSince(t0),
                           kmeansSeconds: t2.timeIntervalSince(t1), fitSeconds: t2.timeIntervalSince(t0), centroidsSHA256: sha)
    }

    /// One line: the settings and the fit.
    public var summary: String { KMeansFeatures.describe(record) }

    public static func describe(_ r: FitRecord) -> String {
        let s = r.settings
        return "kmeans: K = \(s.centroids) centroids of \(s.patchSize)x\(s.patchSize) patches (normalised, eps \(s.normEps); "
            + (s.whiten ? "ZCA eps \(s.whitenEps)" : "no whitening") + "), \(s.activation.rawValue) activation, "
            + "\(s.pool)x\(s.pool) sum pooling -> \(s.width) features; fitted on \(r.patches) patches of \(r.images) training images, "
            + "seed \(r.seed): \(r.iterations) k-means iterations (at most \(s.iterations))"
            + (r.reseeded > 0 ? ", \(r.reseeded) empty clusters re-seeded" : "")
            + String(format: ", distortion %.4g; fit %.1f s (whitening %.1f s, k-means %.1f s; reading and sampling %.1f s)",
                     r.distortion, r.fitSeconds, r.whitenSeconds, r.kmeansSeconds, r.sampleSeconds)
    }

    /// table[j] = offset in a patchified image [T, D] of value j of the [S, S, C] image.
    package static func unpatchifyTable(_ g: PatchGeometry) -> [Int] {
        var t = [Int](repeating: 0, count: g.valuesPerImage)
        for y in 0..<g.imageSize { for x in 0..<g.imageSize { for c in 0..<g.channels {
            t[(y * g.imageSize + x) * g.channels + c] = g.patchOffset(y: y, x: x, c: c)
        } } }
        return t
    }

    /// The p x p patch at (y, x) of an [S, S, C] image as p*p*C values in (row, col, channel) order.
    @inline(__always)
    package static func im2colOne(_ img: UnsafePointer<Float>, side: Int, channels c: Int, patch p: Int, y: Int, x: Int,
                          into out: UnsafeMutablePointer<Float>) {
        let w = p * c
        for dy in 0..<p { (out + dy * w).update(from: img + ((y + dy) * side + x) * c, count: w) }
    }
}
