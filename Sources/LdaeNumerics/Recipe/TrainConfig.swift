/// The l-DAE training recipe. Every deconstruction step of the paper is an option; the defaults are the
/// paper's final choices (docs/method.md). Serialised with snake_case keys into manifests and checkpoints; keys
/// missing from an older file decode to their defaults.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Where the noise goes: the top-d PCA latent (l-DAE) or pixels.
    public var tokenizer: TokenizerKind = .pca
    /// Latent dimension d (PCA components kept).
    public var latentDim: Int = 16
    public var schedule: NoiseScheduleKind = .ldae
    /// The largest sigma of the ldae schedule (sigma_t linear from 0 to sigma_max; the paper's sqrt(2)).
    public var sigmaMax: Double = 2.0.squareRoot()
    /// Scale of the latent before noise (see `LatentScale`).
    public var latentScale: LatentScale = .none
    public var noiseLevels: NoiseLevels = .multi
    public var singleSigma: Double = 1.0 / 3.0
    public var target: PredictionTarget = .image
    /// Scale the noisy latent by gamma_t (DDPM-style input scaling); the final recipe uses none.
    public var inputScaling: Bool = false
    /// Weight of the residual (non-principal) PCA components in the loss.
    public var residualWeight: Double = 0.1
    /// Weight the loss by lambda_t = 1 / (1 + sigma_t^2).
    public var lossWeighting: Bool = true
    public var timesteps: Int = 1000
    /// Class conditioning (model `num_classes`): the fraction of training images whose label is replaced by the null
    /// label, so that the null embedding is trained (nil: DiT's 0.1, `labelDropout`; features use the null label).
    /// Optional so that the JSON of runs without it is unchanged.
    public var classDropout: Double? = nil
    public var labelDropout: Double { classDropout ?? 0.1 }

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
    /// Random crops of the training images (see `CropAugmentation`).
    public var crop: CropAugmentation = .none
    /// Padding of `crop = pad`, in pixels.
    public var cropPadding: Int = 4
    /// Smallest area fraction of `crop = rrc`.
    public var cropScaleMin: Double = 0.35
    /// Fraction of the training images held out as the validation split (never trained on; `HoldOut`).
    public var valFraction: Double = 0
    /// Seed of the held-out split, independent of `seed` so that runs with other seeds hold out the same images.
    public var valSeed: UInt64 = 0
    public var seed: UInt64 = 0
    public var checkpointEvery: Int = 500

    public init() {}

    /// Acronym fields need explicit keys: JSON (snake_case) encodes `baseLR` as "base_lr", which decodes to "baseLr".
    enum CodingKeys: String, CodingKey {
        case tokenizer, latentDim, schedule, sigmaMax, latentScale, noiseLevels, singleSigma, target, inputScaling, residualWeight
        case lossWeighting, timesteps, classDropout, epochs, batchSize, baseLR = "baseLr", warmupEpochs, minLR = "minLr", weightDecay
        case beta1, beta2, gradClip, ema, flip, crop, cropPadding, cropScaleMin, valFraction, valSeed, seed, checkpointEvery
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        tokenizer = try v(.tokenizer, tokenizer); latentDim = try v(.latentDim, latentDim); schedule = try v(.schedule, schedule)
        sigmaMax = try v(.sigmaMax, sigmaMax); latentScale = try v(.latentScale, latentScale)
        noiseLevels = try v(.noiseLevels, noiseLevels); singleSigma = try v(.singleSigma, singleSigma); target = try v(.target, target)
        inputScaling = try v(.inputScaling, inputScaling); residualWeight = try v(.residualWeight, residualWeight)
        lossWeighting = try v(.lossWeighting, lossWeighting); timesteps = try v(.timesteps, timesteps)
        classDropout = try c.decodeIfPresent(Double.self, forKey: .classDropout)
        epochs = try v(.epochs, epochs); batchSize = try v(.batchSize, batchSize); baseLR = try v(.baseLR, baseLR)
        warmupEpochs = try v(.warmupEpochs, warmupEpochs); minLR = try v(.minLR, minLR); weightDecay = try v(.weightDecay, weightDecay)
        beta1 = try v(.beta1, beta1); beta2 = try v(.beta2, beta2); gradClip = try v(.gradClip, gradClip); ema = try v(.ema, ema)
        flip = try v(.flip, flip); crop = try v(.crop, crop); cropPadding = try v(.cropPadding, cropPadding)
        cropScaleMin = try v(.cropScaleMin, cropScaleMin); valFraction = try v(.valFraction, valFraction)
        valSeed = try v(.valSeed, valSeed); seed = try v(.seed, seed); checkpointEvery = try v(.checkpointEvery, checkpointEvery)
    }

    /// Every range check of the recipe, for the command line and library users alike.
    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid training config: \(s)") }
        guard latentDim >= 1 else { throw bad("latent_dim must be >= 1") }
        guard epochs >= 1, batchSize >= 1, baseLR > 0 else { throw bad("epochs, batch_size and base_lr must be positive") }
        guard timesteps >= 2 else { throw bad("timesteps must be >= 2") }
        guard ema >= 0 && ema < 1 else { throw bad("ema must be in [0, 1)") }
        guard gradClip >= 0, weightDecay >= 0, minLR >= 0, warmupEpochs >= 0 else {
            throw bad("clip, weight_decay, min_lr and warmup_epochs must be >= 0")
        }
        guard beta1 >= 0 && beta1 < 1, beta2 >= 0 && beta2 < 1 else { throw bad("beta1 and beta2 must be in [0, 1)") }
        guard singleSigma >= 0, singleSigma.isFinite else { throw bad("single_sigma must be >= 0") }
        guard sigmaMax > 0, sigmaMax.isFinite else { throw bad("sigma_max must be > 0") }
        guard residualWeight >= 0 else { throw bad("residual_weight must be >= 0") }
        guard cropPadding >= 0 && cropPadding <= 64 else { throw bad("crop_padding must be in 0...64") }
        guard cropScaleMin > 0 && cropScaleMin <= 1 else { throw bad("crop_scale_min must be in (0, 1]") }
        guard valFraction >= 0 && valFraction < 1 else { throw bad("val_fraction must be in [0, 1)") }
        guard labelDropout >= 0 && labelDropout <= 1 else { throw bad("class_dropout must be in [0, 1]") }
        if tokenizer == .pixel && latentScale != .none {
            throw bad("latent_scale \(latentScale.rawValue) needs a tokenizer with a latent (its variances give the scale), not pixel")
        }
    }
}

extension TrainConfig {
    /// `ldae-train`'s recipe flags (the usage text in Sources/ldae-train/Usage.swift describes them).
    public static var flags: [ConfigFlag<TrainConfig>] {
        [.choice("tokenizer", \.tokenizer), .int("latent-dim", \.latentDim), .choice("latent-scale", \.latentScale),
         .choice("schedule", \.schedule), .double("sigma-max", \.sigmaMax), .choice("noise-levels", \.noiseLevels),
         .double("sigma", \.singleSigma), .choice("target", \.target), .switch("input-scaling", \.inputScaling, to: true),
         .double("residual-weight", \.residualWeight), .switch("no-loss-weighting", \.lossWeighting, to: false),
         .int("timesteps", \.timesteps), .optionalDouble("class-dropout", \.classDropout),
         .int("epochs", \.epochs), .int("batch-size", \.batchSize), .double("lr", \.baseLR), .double("min-lr", \.minLR),
         .double("warmup-epochs", \.warmupEpochs), .double("weight-decay", \.weightDecay), .double("beta2", \.beta2),
         .double("clip", \.gradClip), .double("ema", \.ema), .switch("no-flip", \.flip, to: false),
         .choice("crop", \.crop), .int("crop-padding", \.cropPadding), .double("crop-scale-min", \.cropScaleMin),
         .double("val-fraction", \.valFraction), .seed("val-seed", \.valSeed),
         .int("checkpoint-every", \.checkpointEvery), .seed("seed", \.seed)]
    }
}
