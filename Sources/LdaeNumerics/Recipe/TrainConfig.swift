/// The l-DAE training recipe: every step of the paper's deconstruction is a knob, its default the paper's final
/// choice (docs/method.md). Each knob is declared once, in `knobs`: its JSON key (manifests, checkpoints; a key
/// missing from an older file decodes to its default), its flag, its range, its help, and the step it undoes.
public struct TrainConfig: Codable, Equatable, Sendable {
    public var tokenizer: TokenizerKind = .pca
    public var latentDim: Int = 16
    public var schedule: NoiseScheduleKind = .ldae
    public var sigmaMax: Double = 2.0.squareRoot()
    public var latentScale: LatentScale = .none
    public var noiseLevels: NoiseLevels = .multi
    public var singleSigma: Double = 1.0 / 3.0
    public var target: PredictionTarget = .image
    public var inputScaling: Bool = false
    public var residualWeight: Double = 0.1
    public var lossWeighting: Bool = true
    public var timesteps: Int = 1000
    /// nil: absent from the JSON (runs without class conditioning keep their JSON); `labelDropout` is the value.
    public var classDropout: Double? = nil
    public var labelDropout: Double { classDropout ?? TrainConfig.defaultLabelDropout }
    public static let defaultLabelDropout = 0.1

    public var epochs: Int = 10
    public var batchSize: Int = 128
    public var baseLR: Double = 1.5e-4
    public var warmupEpochs: Double = 1
    public var minLR: Double = 0
    public var weightDecay: Double = 0.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var gradClip: Double = 1.0
    public var ema: Double = 0
    public var flip: Bool = true
    public var crop: CropAugmentation = .none
    public var cropPadding: Int = 4
    public var cropScaleMin: Double = 0.35
    public var valFraction: Double = 0
    public var valSeed: UInt64 = 0
    public var seed: UInt64 = 0
    public var checkpointEvery: Int = 500

    public init() {}

    public init(from decoder: Decoder) throws {
        self.init()
        try TrainConfig.knobs.decode(decoder, into: &self)
    }

    public func encode(to encoder: Encoder) throws { try TrainConfig.knobs.encode(self, to: encoder) }

    /// Every range check of the recipe, for the command line and library users alike.
    public func validate() throws {
        try TrainConfig.knobs.validate(self, what: "training config")
        if tokenizer == .pixel && latentScale != .none {
            throw LdaeError("invalid training config: latent_scale \(latentScale.rawValue) needs a tokenizer with a latent (its variances give the scale), not pixel")
        }
    }

    /// The recipe's knobs, in `--help` order.
    public static let knobs: [Knob<TrainConfig>] = {
        let recipe = TrainHelp.recipe, opt = TrainHelp.optimization
        return [
            .choice(\.tokenizer, key: "tokenizer", flag: "tokenizer", help: "where the noise goes: the top-d PCA latent, pixels, or a fitted tokenizer's latent (needs --tokenizer-file)", section: recipe,
                    step: MethodStep(changes: "noise in the top-d PCA latent, in pixels (a classical DAE), or in a fitted tokenizer's latent (`--tokenizer-file`, below)", paper: "patch PCA 65.1 vs pixels ~24"), card: "recipe"),
            .int(\.latentDim, key: "latent_dim", flag: "latent-dim", "d", .atLeast(1), help: "latent components kept (a fitted tokenizer: its own d)", section: recipe,
                 step: MethodStep(changes: "PCA components kept", paper: "table 2"), card: "recipe", applies: { $0.tokenizer.hasLatent }),
            .choice(\.latentScale, key: "latent_scale", flag: "latent-scale", help: "scale of the latent before noise: whiten = unit variance per component, global = one factor for unit average variance", section: recipe, card: "recipe",
                    applies: { $0.tokenizer.hasLatent }),
            .choice(\.schedule, key: "schedule", flag: "schedule", help: "noise schedule; " + NoiseScheduleKind.registry.map { "\($0.name): \($0.summary)" }.joined(separator: "; "), section: recipe,
                    step: MethodStep(changes: "(gamma_t, sigma_t) for t = 1..T: " + NoiseScheduleKind.registry.map { "`\($0.name)` \($0.summary)" }.joined(separator: "; "), paper: "new schedule 59.0 -> 63.4"), card: "recipe"),
            .double(\.sigmaMax, key: "sigma_max", flag: "sigma-max", "S", .above(0), help: "the largest sigma of the schedules that read it (ldae)", section: recipe, default: .text("sqrt(2)"),
                    card: "recipe", applies: { $0.schedule.definition.reads.contains("sigma_max") }),
            .choice(\.noiseLevels, key: "noise_levels", flag: "noise-levels", help: "a timestep t per image, or one fixed --sigma", section: recipe,
                    step: MethodStep(values: "`multi`, `single` (`--sigma 1/3`)", changes: "t per image, or one fixed sigma", paper: "single 61.5 vs 64.5"), card: "recipe"),
            .double(\.singleSigma, key: "single_sigma", flag: "sigma", "S", .atLeast(0), help: "sigma of single-level noise", section: recipe, default: .text("1/3"),
                    card: "recipe", applies: { $0.noiseLevels == .single }),
            .choice(\.target, key: "target", flag: "target", help: "predict the clean image or the noise (mapped to pixels)", section: recipe,
                    step: MethodStep(changes: "predict x0, or the noise mapped to pixels (V_d^T eps)", paper: "clean data 62.4"), card: "recipe"),
            .switch(\.inputScaling, key: "input_scaling", flag: "input-scaling", to: true, help: "z = gamma_t z0 + sigma_t eps (the DDPM form; without it z0 + sigma_t eps)", section: recipe,
                    step: MethodStep(changes: "z = gamma_t z0 + sigma_t eps (DDPM's variance-preserving form) instead of z0 + sigma_t eps", paper: "gamma = 1: 63.6"), card: "recipe"),
            .double(\.residualWeight, key: "residual_weight", flag: "residual-weight", "W", .atLeast(0), help: "loss weight of the latent's residual (non-principal) components", section: recipe,
                    step: MethodStep(changes: "loss weight of the non-kept PCA components"), card: "recipe", applies: { $0.tokenizer.hasResidual }),
            .switch(\.lossWeighting, key: "loss_weighting", flag: "no-loss-weighting", to: false, help: "drop the loss weight lambda_t = 1/(1+sigma_t^2)", section: recipe,
                    step: MethodStep(values: "(weighting on)", changes: "drops lambda_t = 1/(1+sigma_t^2)"), card: "recipe"),
            .int(\.timesteps, key: "timesteps", flag: "timesteps", "T", .atLeast(2), help: "noise levels of the schedule's table", section: recipe, card: "recipe"),
            .optionalDouble(\.classDropout, key: "class_dropout", flag: "class-dropout", "P", .within(0...1), absent: defaultLabelDropout,
                            help: "with --class-cond: labels replaced by the null label with probability P", section: TrainHelp.data),
            .int(\.epochs, key: "epochs", flag: "epochs", "E", .atLeast(1), help: "passes over the training images (--steps overrides)", section: opt),
            .int(\.batchSize, key: "batch_size", flag: "batch-size", "B", .atLeast(1), help: "the global batch", section: opt, card: "optimisation"),
            .double(\.baseLR, key: "base_lr", flag: "lr", "LR", .above(0), help: "base learning rate per 256 images; the rate is LR * B / 256", section: opt, card: "optimisation"),
            .double(\.minLR, key: "min_lr", flag: "min-lr", "LR", .atLeast(0), help: "end of the cosine", section: opt, card: "optimisation"),
            .double(\.warmupEpochs, key: "warmup_epochs", flag: "warmup-epochs", "E", .atLeast(0), help: "linear warmup", section: opt, card: "optimisation"),
            .double(\.weightDecay, key: "weight_decay", flag: "weight-decay", "W", .atLeast(0), help: "AdamW's decoupled decay, not on norms, biases and embeddings", section: opt, card: "optimisation"),
            .double(\.beta1, key: "beta1", "B", .within(0..<1), card: "optimisation"),
            .double(\.beta2, key: "beta2", flag: "beta2", "B", .within(0..<1), help: "AdamW's second-moment decay", section: opt, card: "optimisation"),
            .double(\.gradClip, key: "grad_clip", flag: "clip", "C", .atLeast(0), help: "gradient-norm clipping, 0 = off", section: opt, card: "optimisation"),
            .double(\.ema, key: "ema", flag: "ema", "D", .within(0..<1), help: "EMA decay of the weights, 0 = off; the published weights are the EMA when on", section: opt, card: "optimisation"),
            .switch(\.flip, key: "flip", flag: "no-flip", to: false, help: "no random horizontal flips", section: opt, card: "augmentation"),
            .choice(\.crop, key: "crop", flag: "crop", help: "random crops: pad = pad by --crop-padding and crop back, rrc = random-resized crop of area fraction [--crop-scale-min, 1]", section: opt, card: "augmentation"),
            .int(\.cropPadding, key: "crop_padding", flag: "crop-padding", "P", .within(0...64), help: "padding of --crop pad, in pixels", section: opt,
                 card: "augmentation", applies: { $0.crop == .pad }),
            .double(\.cropScaleMin, key: "crop_scale_min", flag: "crop-scale-min", "F", .above(0, atMost: 1), help: "smallest area fraction of --crop rrc", section: opt,
                    card: "augmentation", applies: { $0.crop == .rrc }),
            .double(\.valFraction, key: "val_fraction", flag: "val-fraction", "F", .within(0..<1), help: "hold out this fraction of the training images as the validation split", section: opt),
            .seed(\.valSeed, key: "val_seed", flag: "val-seed", help: "the held-out split's seed (`ldae-zoo eval --val` probes on the same images)", section: opt),
            .seed(\.seed, key: "seed", flag: "seed", help: "data order, flips, noise and init are functions of (seed, step)", section: opt, card: "optimisation"),
            .int(\.checkpointEvery, key: "checkpoint_every", flag: "checkpoint-every", help: "steps between checkpoints (also on SIGINT/SIGTERM)", section: TrainHelp.run),
        ]
    }()
}

/// The headings of `ldae-train --help`, in order.
public enum TrainHelp {
    public static let data = "data and model"
    public static let recipe = "recipe (defaults = the paper's final l-DAE)"
    public static let optimization = "optimization"
    public static let run = "run, checkpoints, zoo"
    public static let sections = [data, recipe, optimization, run]
}
