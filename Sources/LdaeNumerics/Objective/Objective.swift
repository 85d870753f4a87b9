import Foundation

/// The l-DAE objective (docs/method.md, "The final recipe", steps 1-4): corruption in the PCA latent (or in pixels), and the
/// PCA-weighted reconstruction loss with its gradient, over flat buffers.
///
/// Shapes: B images, T tokens, D = p*p*C values per token, d latent dims. All pixels are pixel-scaled
/// (`PixelScaling`, x/127.5 - 1) and patchified (`PatchGeometry`).
///
/// pca tokenizer (V = pca.components [D, D], rows by descending variance; V_d its first d rows):
///   z0 = V_d (x0 - mean)            [B, T, d]
///   z  = gamma_b z0 + sigma_b s eps eps ~ N(0, I) [B, T, d]; s [d] the latent scale (`LatentScale`, 1 = none):
///                                   scaling the latent by 1/s, adding sigma eps and scaling back is this
///   x  = mean + V_d^T z             [B, T, D]   the encoder input (the residual components are dropped)
/// pixel tokenizer (V = I, d = D, mean = 0):  x = gamma_b x0 + sigma_b eps, eps [B, T, D].
///
/// Targets y [B, T, D]:
///   image: y = x0 (the clean image, all D components)
///   noise: y = V_d^T (s eps), the latent noise mapped to pixels (pixel tokenizer: eps itself), so that
///          x = mean + gamma V_d^T z0 + sigma y.
/// Loss (prediction yhat = model output [B, T, D]):
///   r = V (y - yhat)                                   [B, T, D] full PCA coordinates
///   L = 1/(B T) sum_b lambda_b sum_t sum_i w_i r_{b,t,i}^2
///   w_i = 1 for i < d, residual_weight for i >= d (pixel: all 1); lambda_b = 1/(1 + sigma_b^2) if loss_weighting else 1
///   dL/dyhat = -(2 lambda_b / (B T)) (w * r) V           [B, T, D]
public struct LDAEObjective: @unchecked Sendable {
    public let config: TrainConfig
    public let geometry: PatchGeometry
    public let tokens: Int
    public let dim: Int
    public let latentDim: Int
    /// Where the noise goes (docs/method.md, "Tokenizers").
    public let tokenizer: TokenizerModel
    /// [D, D] the loss basis: rows = an orthonormal basis whose first d rows span the tokenizer's decoder (pca: V;
    /// identity for pixel and for an image codec, whose loss is plain pixel MSE).
    public let basis: [Float]
    /// [D] the decoder's mean patch (pca: the PCA mean; zeros for pixel and an image codec).
    public let mean: [Float]
    /// [D] per-component loss weights (1 for the first d, residual_weight for the rest; all 1 without a residual).
    public let weights: [Float]
    /// [d] the noise multiplier of each latent component (the latent scale s; all 1 for `none` and pixels).
    public let noiseScale: [Float]

    /// The pca and pixel tokenizers (pca is required by pca); geometry = the shards' patch geometry.
    public init(config: TrainConfig, pca: PCABasis?, geometry: PatchGeometry) throws {
        let D = geometry.tokenDim
        switch config.tokenizer {
        case .pca:
            guard let pca else { throw LdaeError("the pca tokenizer needs a PCA basis (--pca pca.h5)") }
            guard pca.patchSize == geometry.patchSize, pca.channels == geometry.channels, pca.dim == D else {
                throw LdaeError("PCA basis has patch_size \(pca.patchSize) x \(pca.channels) channels (D = \(pca.dim)) but the shards have patch_size \(geometry.patchSize) x \(geometry.channels) (D = \(D))")
            }
            guard config.latentDim >= 1 && config.latentDim <= D else {
                throw LdaeError("latent_dim \(config.latentDim) must be in 1...\(D) (the patch dimension)")
            }
            try self.init(config: config, tokenizer: .linear(LinearCodec(pca: pca, d: config.latentDim)), geometry: geometry)
        case .pixel:
            try self.init(config: config, tokenizer: .pixel, geometry: geometry)
        case .patchAE, .patchVAE, .convVAE:
            throw LdaeError("the \(config.tokenizer.rawValue) tokenizer needs its file (--tokenizer-file FILE from ldae-fit-tokenizer)")
        }
    }

    /// Any tokenizer (`LoadedTokenizer.model`).
    public init(config: TrainConfig, tokenizer: TokenizerModel, geometry: PatchGeometry) throws {
        self.config = config
        self.geometry = geometry
        self.tokenizer = tokenizer
        tokens = geometry.tokens
        let D = geometry.tokenDim
        dim = D
        var eye = [Float](repeating: 0, count: D * D)
        for i in 0..<D { eye[i * D + i] = 1 }
        switch tokenizer {
        case .pixel:
            latentDim = D
            basis = eye
            mean = [Float](repeating: 0, count: D)
            weights = [Float](repeating: 1, count: D)
            noiseScale = [Float](repeating: 1, count: D)
        case .linear(let c):
            guard c.dim == D else { throw LdaeError("the tokenizer's patches have D = \(c.dim) values but the shards' have \(D)") }
            latentDim = c.latentDim
            basis = c.lossBasis
            mean = c.meanOut
            weights = (0..<D).map { $0 < c.latentDim ? 1 : Float(config.residualWeight) }
            noiseScale = LDAEObjective.latentScale(config.latentScale, eigenvalues: c.latentVariance)
        case .image(let c):
            guard config.target == .image else {
                throw LdaeError("target noise needs a linear tokenizer (pca, patch-ae, patch-vae) or pixels: a non-linear decoder has no pixel-space noise")
            }
            latentDim = c.latentDim
            basis = eye
            mean = [Float](repeating: 0, count: D)
            weights = [Float](repeating: 1, count: D)
            noiseScale = LDAEObjective.latentScale(config.latentScale, eigenvalues: c.latentVariance)
        }
    }

    /// The per-component scale s [d] of `kind` from the kept components' eigenvalues (variances).
    public static func latentScale(_ kind: LatentScale, eigenvalues ev: [Float]) -> [Float] {
        switch kind {
        case .none: return [Float](repeating: 1, count: ev.count)
        case .whiten: return ev.map { Float(Double(max($0, 1e-12)).squareRoot()) }
        case .global:
            let mean = ev.map(Double.init).reduce(0, +) / Double(max(ev.count, 1))
            return [Float](repeating: Float(max(mean, 1e-12).squareRoot()), count: ev.count)
        }
    }

    /// lambda_t of one image: 1 / (1 + sigma^2) when loss_weighting, else 1.
    public func lossWeight(sigma: Double) -> Double { config.lossWeighting ? 1 / (1 + sigma * sigma) : 1 }

    /// Corrupts clean pixel-scaled patches x0 [B,T,D] at per-image noise std `sigmas` [B] (and gammas [B]):
    /// latent noise for pca (z0 = V_d(x0-mean), z = gamma*z0 + sigma*eps, x = mean + V_d^T z), pixel noise for pixel.
    public func corrupt(_ x0: UnsafePointer<Float>, batch: Int, gammas: [Double], sigmas: [Double], rng: inout RNG,
                        out: UnsafeMutablePointer<Float>) {
        corrupt(x0, batch: batch, gammas: gammas, sigmas: sigmas, rng: &rng, out: out, noise: nil)
    }

    /// As `corrupt`, also writing the noise target y = V_d^T eps [B,T,D] into `noise` when given.
    /// eps is drawn image by image, token by token, component by component from `rng`.
    public func corrupt(_ x0: UnsafePointer<Float>, batch B: Int, gammas: [Double], sigmas: [Double], rng: inout RNG,
                        out: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>?) {
        require(gammas.count >= B && sigmas.count >= B)
        let T = tokens, D = dim, d = latentDim, N = B * T
        if N == 0 { return }
        if case .pixel = tokenizer {
            for b in 0..<B {
                let g = Float(gammas[b]), s = Float(sigmas[b])
                for j in (b * T * D)..<((b + 1) * T * D) {
                    let e = Float(rng.normal())
                    out[j] = g * x0[j] + s * e
                    noise?[j] = e
                }
            }
            return
        }
        switch tokenizer {
        case .pixel: return
        case .linear(let c): corruptLinear(c, x0, batch: B, gammas: gammas, sigmas: sigmas, rng: &rng, out: out, noise: noise)
        case .image(let c):
            var z = [Float](repeating: 0, count: N * d)   // latent [B, T, d]
            z.withUnsafeMutableBufferPointer { zp in
                c.encode(x0, batch: B, into: zp.baseAddress!)
                addNoise(zp.baseAddress!, batch: B, gammas: gammas, sigmas: sigmas, rng: &rng, eps: nil)
                c.decode(zp.baseAddress!, batch: B, into: out)
            }
        }
    }

    // MARK: the random numbers `corrupt` draws (what data parallelism relies on)

    /// How many normals `corrupt` draws for one image: image by image, in order, T x d each (d = D for pixels), and
    /// no other random numbers. A rank that computes images i..<j of a global batch skips the i * normalsPerImage
    /// normals of the images before its own (`levels(_:of:rng:)`), so that every image is corrupted with the numbers
    /// it gets in one process (ObjectiveTests checks both facts).
    public var normalsPerImage: Int { tokens * latentDim }

    /// The noise levels of the images of `slice` out of the global batch's `lv`, with `rng` advanced past the noise
    /// `corrupt` draws for the images before the slice (the whole batch: `lv` and `rng` as they are).
    public func levels(_ lv: (t: [Int], gammas: [Double], sigmas: [Double]), of slice: BatchSlice, rng: inout RNG)
        -> (t: [Int], gammas: [Double], sigmas: [Double]) {
        let r = slice.range
        rng.skipNormals(r.lowerBound * normalsPerImage)
        return (Array(lv.t[r]), Array(lv.gammas[r]), Array(lv.sigmas[r]))
    }

    /// z <- gamma_b z + sigma_b s eps per image b, eps drawn image by image, token by token, component by component
    /// (the order `normalsPerImage` describes); eps * s kept in `eps` when given.
    private func addNoise(_ z: UnsafeMutablePointer<Float>, batch B: Int, gammas: [Double], sigmas: [Double], rng: inout RNG,
                          eps: UnsafeMutablePointer<Float>?) {
        let T = tokens, d = latentDim
        for b in 0..<B {
            let g = Float(gammas[b]), s = Float(sigmas[b])
            for k in (b * T * d)..<((b + 1) * T * d) {
                let e = Float(rng.normal()) * noiseScale[k % d]
                eps?[k] = e
                z[k] = g * z[k] + s * e
            }
        }
    }

    /// A linear tokenizer: z0 = E (x0 - meanIn) + bias, z = gamma z0 + sigma s eps, x = meanOut + z Dec; the noise
    /// target y = (s eps) Dec.
    private func corruptLinear(_ c: LinearCodec, _ x0: UnsafePointer<Float>, batch B: Int, gammas: [Double], sigmas: [Double],
                               rng: inout RNG, out: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>?) {
        let N = B * tokens, D = dim, d = latentDim
        var z = [Float](repeating: 0, count: N * d)   // latent     [N, d]
        var eps = [Float](repeating: 0, count: N * d) // noise      [N, d]
        z.withUnsafeMutableBufferPointer { zp in eps.withUnsafeMutableBufferPointer { ep in
            c.encode(x0, count: N, into: zp.baseAddress!)
            addNoise(zp.baseAddress!, batch: B, gammas: gammas, sigmas: sigmas, rng: &rng, eps: ep.baseAddress!)
            c.decode(zp.baseAddress!, count: N, into: out)
        } }
        if let noise {
            c.decoder.withUnsafeBufferPointer { V in
                BLAS.sgemm(transA: false, transB: false, m: N, n: D, k: d, alpha: 1, a: eps, lda: d,
                           b: V.baseAddress!, ldb: D, beta: 0, c: noise, ldc: D)
            }
        }
    }

    /// The weighted loss of prediction yhat [B,T,D] against target y [B,T,D] (see the type's comment).
    /// When `dPrediction` is given, dL/dyhat [B,T,D] is WRITTEN there (it is the root of the backward pass).
    public func loss(prediction yhat: UnsafePointer<Float>, target y: UnsafePointer<Float>, batch B: Int, sigmas: [Double],
                     dPrediction: UnsafeMutablePointer<Float>?) -> Double {
        let T = tokens, D = dim, N = B * T
        if N == 0 { return 0 }
        var diff = [Float](repeating: 0, count: N * D)  // y - yhat [N, D]
        for k in 0..<(N * D) { diff[k] = y[k] - yhat[k] }
        var r = [Float](repeating: 0, count: N * D)     // V (y - yhat) per row [N, D]
        var total = 0.0
        basis.withUnsafeBufferPointer { V in
            BLAS.sgemm(transA: false, transB: true, m: N, n: D, k: D, alpha: 1, a: diff, lda: D,
                       b: V.baseAddress!, ldb: D, beta: 0, c: &r, ldc: D)
            for b in 0..<B {
                let lam = lossWeight(sigma: sigmas[b])
                var sb = 0.0
                for n in (b * T)..<((b + 1) * T) {
                    var sn: Float = 0
                    for i in 0..<D { let v = r[n * D + i]; sn += weights[i] * v * v }
                    sb += Double(sn)
                }
                total += lam * sb
                if dPrediction != nil {
                    // r <- -(2 lambda / N) w * r, row by row of image b
                    let scale = Float(-2 * lam / Double(N))
                    for n in (b * T)..<((b + 1) * T) { for i in 0..<D { r[n * D + i] *= scale * weights[i] } }
                }
            }
            if let dPrediction {
                // dyhat[N, D] = g[N, D] V[D, D]
                BLAS.sgemm(transA: false, transB: false, m: N, n: D, k: D, alpha: 1, a: r, lda: D,
                           b: V.baseAddress!, ldb: D, beta: 0, c: dPrediction, ldc: D)
            }
        }
        return total / Double(N)
    }
}

extension RNG {
    /// Advances the generator exactly as `n` calls of `normal()` would, without computing them: the rank that
    /// starts at image i of a batch skips the noise of images 0..<i, so every image gets the numbers it gets in
    /// one process. Box-Muller takes two uniforms (the first redrawn while <= 1e-300) per pair of normals.
    public mutating func skipNormals(_ n: Int) {
        var k = n
        if k > 0 && hasSpareNormal { _ = normal(); k -= 1 }
        while k >= 2 {
            var u = uniform()
            while u <= 1e-300 { u = uniform() }
            _ = next()
            k -= 2
        }
        if k == 1 { _ = normal() }
    }
}
