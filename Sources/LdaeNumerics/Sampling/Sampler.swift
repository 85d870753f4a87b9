import Foundation

/// The diffusion side of the deconstruction: DDPM ancestral sampling, DDIM (eta in [0, 1]) and DDIM inversion from a
/// trained denoiser, for every schedule, target and tokenizer the trainer supports (steps in Sampler+Steps.swift).
///
/// The process. For t in 1...T the trainer corrupts z_t = gamma_t z0 + sigma_t eps (`NoiseSchedule.gammaSigma`;
/// without input scaling gamma_t = 1 for every schedule, a variance-exploding process; the ldae schedule has
/// gamma = 1 and sigma_t from 0 to sqrt(2)). z lives in the top-d PCA latent for the pca tokenizer
/// (z = V_d (x - mean), the model sees x = mean + V_d^T z, `LDAEObjective.corrupt`) and is the pixel-scaled patch
/// itself for the pixel tokenizer. Level t = 0 is the clean end: gamma_0 = 1, sigma_0 = 0.
///
/// The model's output, mapped to the latent (x0hat, epshat), at level t:
///   target image: x0hat = V_d (yhat - mean),  epshat = (z_t - gamma_t x0hat) / sigma_t
///   target noise: epshat = V_d yhat,          x0hat = (z_t - sigma_t epshat) / max(gamma_t, 1e-3)
/// (with `clipX0`, x0hat is mapped to pixels, clamped to [-1, 1], projected back, and epshat recomputed from it).
///
/// The DDPM posterior for general gamma/sigma, s < t (Kingma et al. 2021, VDM, eq. 22-23). The forward transition
/// is q(z_t | z_s) = N(gamma_ts z_s, sigma_ts^2) with gamma_ts = gamma_t / gamma_s, sigma_ts^2 = sigma_t^2 -
/// gamma_ts^2 sigma_s^2, and
///   q(z_s | z_t, z0) = N(mu, var),  mu = (gamma_ts sigma_s^2 / sigma_t^2) z_t + (gamma_s sigma_ts^2 / sigma_t^2) z0,
///                                   var = sigma_ts^2 sigma_s^2 / sigma_t^2.
/// For the VP ddpm schedule (gamma_t^2 = abar_t, sigma_t^2 = 1 - abar_t, s = t - 1) this is DDPM's
/// mu = (sqrt(abar_{t-1}) beta_t / (1 - abar_t)) z0 + (sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t)) z_t and
/// var = (1 - abar_{t-1}) / (1 - abar_t) beta_t; for the VE case (gamma = 1): mu = (sigma_s^2 / sigma_t^2) z_t +
/// (1 - sigma_s^2 / sigma_t^2) z0, var = (sigma_t^2 - sigma_s^2) sigma_s^2 / sigma_t^2.
///   DDPM ancestral step: z_s = mu(z_t, x0hat) + sqrt(var) xi,  xi ~ N(0, I).
///   DDIM step:           z_s = gamma_s x0hat + sqrt(sigma_s^2 - c^2) epshat + c xi,  c = eta sqrt(var)
///                            = eta sigma_s sqrt(1 - (gamma_t sigma_s / (gamma_s sigma_t))^2).
/// (For VP this is Song et al.'s sigma_t(eta) = eta sqrt((1-abar_s)/(1-abar_t)) sqrt(1 - abar_t/abar_s). With
/// eta = 1, sqrt(sigma_s^2 - var) = gamma_ts sigma_s^2 / sigma_t and the DDIM mean equals mu: DDIM(1) = DDPM.)
///   DDIM inversion (eta = 0, from level a to the noisier level b): z_b = gamma_b x0hat + sigma_b epshat with
///   (x0hat, epshat) from the model at (z_a, a); from a clean level (sigma_a = 0) x0hat = z_a and epshat comes from
///   the model at (z_a, b).
///
/// Steps: an increasing list of training timesteps t_1 < ... < t_S (`evenlySpaced`; all of 1...T is full DDPM);
/// sampling walks t_S -> t_{S-1} -> ... -> t_1 -> clean. The prior: z_{t_S} ~ N(gamma mean_i, gamma^2 var_i +
/// sigma^2) per latent component i (default mean 0, var 1; `usePrior(pca:)` sets the data's own mean and variance
/// from the PCA basis, which matters for variance-exploding processes where sigma_T = sqrt(2) does not swamp the data).
/// The last step returns x0hat in pixels: for the image target the model's whole prediction (all D components, the
/// residual ones included), for the noise target mean + V_d^T x0hat.
///
/// Time conditioning as in training (`TrainStep`): the model gets t_frac = (t - 1) / T; models without it get nil.
/// Deterministic: image i draws its prior and step noise from RNG(seed, stream: i), and the latent <-> pixel products
/// run one image at a time, so results do not depend on the batch size.
public struct DiffusionSampler: @unchecked Sendable {
    public enum Method: String, MethodOption { case ddpm, ddim }
    public enum Prediction: Sendable { case cleanImage, noise }

    /// One noise level of z = gamma z0 + sigma eps; t = 0 is the clean end.
    public struct Level: Equatable, Sendable {
        public var t: Int, gamma: Double, sigma: Double
        public init(t: Int, gamma: Double, sigma: Double) { self.t = t; self.gamma = gamma; self.sigma = sigma }
    }

    /// The model as a function: x [B, T, D] pixel-scaled input, t [B] (nil without time conditioning) -> out [B, T, D].
    public typealias Denoiser = (_ x: UnsafePointer<Float>, _ t: UnsafePointer<Float>?, _ batch: Int, _ out: UnsafeMutablePointer<Float>) -> Void

    public let schedule: NoiseSchedule
    public let geometry: PatchGeometry
    public let latentDim: Int
    public let prediction: Prediction
    public let timeConditioned: Bool
    /// Clamp x0hat to the pixel range [-1, 1] at every step (DDPM's clip_denoised).
    public var clipX0 = false
    /// Prior mean and variance per latent component [d] (see the type's comment).
    public var priorMean: [Float]
    public var priorVariance: [Float]
    let basis: [Float]     // [D, D], the first d rows span the latent
    let mean: [Float]      // [D]
    let identity: Bool     // pixel tokenizer: latent = pixels
    /// [d] the trainer's latent scale s (`LatentScale`): the sampler's latent is u = z / s, where the noise is sigma eps.
    let scale: [Float]

    public init(objective: LDAEObjective, schedule: NoiseSchedule, prediction: Prediction, timeConditioned: Bool) {
        self.schedule = schedule
        geometry = objective.geometry
        latentDim = objective.latentDim
        self.prediction = prediction
        self.timeConditioned = timeConditioned
        let D = objective.dim, V = objective.basis, m = objective.mean
        basis = V
        mean = m
        scale = objective.noiseScale.count == objective.latentDim ? objective.noiseScale : [Float](repeating: 1, count: objective.latentDim)
        identity = objective.latentDim == D && m.allSatisfy { $0 == 0 }
            && (0..<(D * D)).allSatisfy { V[$0] == ($0 % (D + 1) == 0 ? 1 : 0) }
        priorMean = [Float](repeating: 0, count: latentDim)
        priorVariance = [Float](repeating: 1, count: latentDim)
    }

    /// Target and time conditioning read from the configs.
    public init(objective: LDAEObjective, schedule: NoiseSchedule, model: ModelConfig) {
        self.init(objective: objective, schedule: schedule,
                  prediction: objective.config.target == .noise ? .noise : .cleanImage,
                  timeConditioned: model.timeCond == .adaln)
    }

    /// The prior from the data's statistics: pca tokenizer mean 0, variance = the top-d eigenvalues; pixel tokenizer
    /// the mean patch and the diagonal of the patch covariance V^T diag(eigenvalues) V.
    public mutating func usePrior(pca: PCABasis) {
        let D = geometry.tokenDim, d = latentDim
        guard pca.dim == D else { return }
        if identity {
            priorMean = pca.mean
            priorVariance = (0..<D).map { j in (0..<D).reduce(Float(0)) { $0 + pca.eigenvalues[$1] * pca.components[$1 * D + j] * pca.components[$1 * D + j] } }
        } else {
            priorMean = [Float](repeating: 0, count: d)
            priorVariance = (0..<d).map { max(pca.eigenvalues[$0], 0) / (scale[$0] * scale[$0]) }
        }
    }

    public var timesteps: Int { schedule.timesteps }

    /// Level t (0 = clean): gamma_t only with input scaling, as the trainer corrupts.
    public func level(_ t: Int) -> Level {
        if t == 0 { return Level(t: 0, gamma: 1, sigma: 0) }
        let (g, s) = schedule.gammaSigma(t)
        return Level(t: t, gamma: schedule.inputScaling ? g : 1, sigma: s)
    }

    /// `steps` timesteps evenly spaced over 1...T, increasing, ending at T: round(k T / steps), k = 1...steps.
    public static func evenlySpaced(steps: Int, of T: Int) -> [Int] {
        let S = max(1, min(steps, T))
        return (1...S).map { Int((Double($0) * Double(T) / Double(S)).rounded()) }
    }

    /// q(z_s | z_t, z0) = N(cz z_t + cx0 z0, variance), s less noisy than t (the type's comment).
    public static func posterior(from t: Level, to s: Level) -> (cz: Double, cx0: Double, variance: Double) {
        guard t.sigma > 0 else { return (0, s.gamma, 0) }
        let gts = t.gamma / s.gamma
        let sts2 = max(0, t.sigma * t.sigma - gts * gts * s.sigma * s.sigma)
        let st2 = t.sigma * t.sigma
        return (gts * s.sigma * s.sigma / st2, s.gamma * sts2 / st2, sts2 * s.sigma * s.sigma / st2)
    }

    /// DDIM: z_s = cx0 x0hat + ceps epshat + cnoise xi.
    public static func ddim(from t: Level, to s: Level, eta: Double) -> (cx0: Double, ceps: Double, cnoise: Double) {
        let c = eta * posterior(from: t, to: s).variance.squareRoot()
        return (s.gamma, max(0, s.sigma * s.sigma - c * c).squareRoot(), c)
    }

    func checkTimesteps(_ ts: [Int]) throws {
        guard !ts.isEmpty, ts.first! >= 1, ts.last! <= timesteps, zip(ts, ts.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw LdaeError("sampling timesteps must be increasing and within 1...\(timesteps), got \(ts.prefix(8))\(ts.count > 8 ? "..." : "")")
        }
    }

    // MARK: latent <-> pixels

    /// body(first row, rows) over blocks of one image's tokens: the same product shape whatever the batch, so each
    /// image's values do not depend on how many are sampled together (OpenBLAS's results can depend on the row count).
    private func perImage(rows n: Int, _ body: (Int, Int) -> Void) {
        let T = max(1, geometry.tokens)
        var r0 = 0
        while r0 < n { let m = min(T, n - r0); body(r0, m); r0 += m }
    }

    /// x [n, D] = mean + (s * u) [n, d] V_d.
    func toPixels(_ u: [Float], rows n: Int) -> [Float] {
        if identity { return u }
        let D = geometry.tokenDim, d = latentDim
        var z = u
        for i in 0..<n { for k in 0..<d { z[i * d + k] *= scale[k] } }
        var x = [Float](repeating: 0, count: n * D)
        for i in 0..<n { for j in 0..<D { x[i * D + j] = mean[j] } }
        z.withUnsafeBufferPointer { zp in x.withUnsafeMutableBufferPointer { xp in
            perImage(rows: n) { r0, m in
                BLAS.sgemm(transA: false, transB: false, m: m, n: D, k: d, alpha: 1, a: zp.baseAddress! + r0 * d, lda: d,
                           b: basis, ldb: D, beta: 1, c: xp.baseAddress! + r0 * D, ldc: D)
            }
        } }
        return x
    }

    /// u [n, d] = ((x [n, D] - mean) V_d^T) / s (without the mean when `centered` is false: a noise vector).
    func toLatent(_ x: [Float], rows n: Int, centered: Bool = true) -> [Float] {
        if identity { return x }
        let D = geometry.tokenDim, d = latentDim
        var c = x
        if centered { for i in 0..<n { for j in 0..<D { c[i * D + j] -= mean[j] } } }
        var z = [Float](repeating: 0, count: n * d)
        c.withUnsafeBufferPointer { cp in z.withUnsafeMutableBufferPointer { zp in
            perImage(rows: n) { r0, m in
                BLAS.sgemm(transA: false, transB: true, m: m, n: d, k: D, alpha: 1, a: cp.baseAddress! + r0 * D, lda: D,
                           b: basis, ldb: D, beta: 0, c: zp.baseAddress! + r0 * d, ldc: d)
            }
        } }
        for i in 0..<n { for k in 0..<d { z[i * d + k] /= scale[k] } }
        return z
    }
}
