/// The l-DAE training recipe. Every deconstruction step of the paper is an option; the defaults are the
/// paper's final choices (DESIGN.md, "The method"). Serialised with snake_case keys into the manifest.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// "pca" (latent = top-d PCA coordinates of each patch) or "pixel" (noise in pixel space, classical DAE).
    public var tokenizer: String = "pca"
    /// Latent dimension d (PCA components kept).
    public var latentDim: Int = 16
    /// "ldae" (gamma = 1, sigma linear 0..sqrt(2)), "ddpm" (linear beta), "linear" (gamma^2 linear 1..0), "cosine".
    public var schedule: String = "ldae"
    /// "multi" (t drawn per image) or "single" (fixed sigma = single_sigma).
    public var noiseLevels: String = "multi"
    public var singleSigma: Double = 1.0 / 3.0
    /// "image" (predict the clean image) or "noise".
    public var target: String = "image"
    /// Scale the noisy latent by gamma_t (DDPM-style input scaling); the final recipe uses none.
    public var inputScaling: Bool = false
    /// Weight of the residual (non-principal) PCA components in the loss.
    public var residualWeight: Double = 0.1
    /// Weight the loss by lambda_t = 1 / (1 + sigma_t^2).
    public var lossWeighting: Bool = true
    public var timesteps: Int = 1000

    public var epochs: Int = 10
    public var batchSize: Int = 128
    /// Base learning rate; the actual rate is base_lr * batch_size / 256.
    public var baseLR: Double = 1.5e-4
    public var warmupEpochs: Double = 1
    public var minLR: Double = 0
    public var weightDecay: Double = 0.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var gradClip: Double = 1.0
    /// EMA decay of weights (0 = off).
    public var ema: Double = 0
    public var flip: Bool = true
    public var seed: UInt64 = 0
    public var checkpointEvery: Int = 500

    public init() {}

    /// Acronym fields need explicit keys: JSON (snake_case) encodes `baseLR` as "base_lr", which decodes to "baseLr".
    enum CodingKeys: String, CodingKey {
        case tokenizer, latentDim, schedule, noiseLevels, singleSigma, target, inputScaling, residualWeight, lossWeighting, timesteps
        case epochs, batchSize, baseLR = "baseLr", warmupEpochs, minLR = "minLr", weightDecay, beta1, beta2, gradClip, ema, flip, seed
        case checkpointEvery
    }

    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid training config: \(s)") }
        guard ["pca", "pixel"].contains(tokenizer) else { throw bad("tokenizer must be pca or pixel") }
        guard ["ldae", "ddpm", "linear", "cosine"].contains(schedule) else { throw bad("schedule must be ldae, ddpm, linear or cosine") }
        guard ["multi", "single"].contains(noiseLevels) else { throw bad("noise_levels must be multi or single") }
        guard ["image", "noise"].contains(target) else { throw bad("target must be image or noise") }
        guard latentDim >= 1 else { throw bad("latent_dim must be >= 1") }
        guard epochs >= 1, batchSize >= 1, baseLR > 0 else { throw bad("epochs, batch_size and base_lr must be positive") }
    }
}
