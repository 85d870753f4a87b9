/// How a tokenizer is fit (`ldae-fit-tokenizer`); recorded in its file (attribute `settings`, JSON with snake_case
/// keys) so that `--resume` can check it continues the same fit.
/// How a linear tokenizer's fit starts (`ldae-fit-tokenizer --init`; `TokenizerFitSettings.initPCA`).
public enum TokenizerInit: String, MethodOption { case random, pca }

public struct TokenizerFitSettings: Codable, Equatable, Sendable {
    public var kind: TokenizerKind = .patchAE
    public var latentDim: Int = 16
    /// Optimizer steps, each on `batch_size` whole images (all their patches for the patch tokenizers).
    public var steps: Int = 2000
    public var batchSize: Int = 64
    /// Adam's learning rate (constant after a linear warmup of 100 steps).
    public var lr: Double = 2e-3
    /// Weight of the KL term (VAEs), per latent element against the per-value reconstruction MSE.
    public var klWeight: Double = 1e-3
    /// Base channel count of conv-vae.
    public var width: Int = 32
    /// Linear tokenizers start from random weights or from the PCA basis of the first batches' patches.
    public var initPCA: Bool = false
    public var seed: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey { case kind, latentDim, steps, batchSize, lr = "lr", klWeight, width, initPCA = "initPca", seed }

    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid tokenizer settings: \(s)") }
        guard kind.isFitted else { throw bad("kind \(kind.rawValue) is not fit by ldae-fit-tokenizer (pca: ldae-fit-pca; pixel: no file)") }
        guard latentDim >= 1 && latentDim <= 4096 else { throw bad("latent_dim must be in 1...4096") }
        guard steps >= 1, batchSize >= 1 else { throw bad("steps and batch_size must be >= 1") }
        guard lr > 0, lr.isFinite else { throw bad("lr must be > 0") }
        guard klWeight >= 0, klWeight.isFinite else { throw bad("kl_weight must be >= 0") }
        guard width >= 1 && width <= 1024 else { throw bad("width must be in 1...1024") }
    }
}
