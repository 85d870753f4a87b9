/// Where the classifier's linear head reads the encoder (`--head`).
public enum FinetuneHead: String, MethodOption {
    /// The mean of the final tokens after the encoder's norm: timm's `VisionTransformer(global_pool='avg',
    /// fc_norm=False, num_classes=C)`, so the exported classifier is a plain timm model. The default.
    case pooled
    /// The parent entry's recommended features (manifest `features`: layers and pooling, e.g. block 3 with 4 x 4
    /// grid pooling), concatenated: what the frozen-encoder evaluation reads. Blocks above the highest layer read
    /// are not run.
    case readout
}

/// Where the encoder's weights come from (`--init`): the entry's own (`pretrained`) or a random initialisation of
/// the same architecture (`random`, the from-scratch baseline, MAE's init with seed `seed`). `--init REF` (another
/// entry of the same architecture) is resolved by the command and recorded as `pretrained` with that parent.
public enum FinetuneInit: String, MethodOption {
    case pretrained, random
}

/// The fine-tuning recipe (MAE's `main_finetune.py` at CPU scale): AdamW with layer-wise learning-rate decay, linear
/// warmup then half-cycle cosine, label smoothing, drop path, the pretraining's crop and flip augmentation.
/// Serialised with snake_case keys (the classifier entry's manifest, checkpoints); keys missing from an older file
/// decode to their defaults. Defaults and their reasons: docs/finetuning.md.
public struct FinetuneConfig: Codable, Equatable, Sendable {
    public var initFrom: FinetuneInit = .pretrained
    public var head: FinetuneHead = .pooled
    public var epochs: Int = 20
    public var batchSize: Int = 128
    /// Base learning rate per 256 images (peak = base_lr * batch / 256), MAE's ViT-B fine-tuning value.
    public var baseLR: Double = 5e-4
    /// Block i's rate is multiplied by layer_decay^(depth + 1 - layer id) (patch and position embedding: id 0,
    /// block i: i + 1, the final norm and the head: depth + 1); 1 turns it off.
    public var layerDecay: Double = 0.75
    public var warmupEpochs: Double = 2
    public var minLR: Double = 1e-6
    public var weightDecay: Double = 0.05
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    /// Gradient clipping by global norm (0: off, as MAE's fine-tuning).
    public var gradClip: Double = 0
    /// The target is (1 - s) one-hot + s / C.
    public var labelSmoothing: Double = 0.1
    /// Stochastic depth: block i of L drops each residual branch of an image with probability rate * i / (L - 1).
    public var dropPath: Double = 0.1
    public var flip: Bool = true
    public var crop: CropAugmentation = .pad
    public var cropPadding: Int = 4
    public var cropScaleMin: Double = 0.35
    /// Held out of the training shards as the validation split (`HoldOut`); nil: the parent's split when it has one,
    /// else 0.1 (resolved by the command and recorded).
    public var valFraction: Double? = nil
    public var valSeed: UInt64? = nil
    /// Validation every this many steps (0: once per epoch) and at the end.
    public var evalEvery: Int = 0
    /// Validate on at most this many held-out images (0: all).
    public var evalMaxImages: Int = 0
    public var seed: UInt64 = 0
    public var checkpointEvery: Int = 500

    public init() {}

    public init(from decoder: Decoder) throws {
        self.init()
        try FinetuneConfig.knobs.decode(decoder, into: &self)
    }

    public func encode(to encoder: Encoder) throws { try FinetuneConfig.knobs.encode(self, to: encoder) }

    /// Every range check of the recipe (its knobs' bounds), for the command line and library users alike.
    public func validate() throws {
        try FinetuneConfig.knobs.validate(self, what: "fine-tuning config")
    }

    /// The fields the data loader and the manifest's `training` share with pretraining (batches, augmentation,
    /// held-out split, optimiser numbers); the rest of the recipe is in the classifier record.
    public var loaderConfig: TrainConfig {
        var t = TrainConfig()
        t.tokenizer = .pixel
        t.epochs = epochs; t.batchSize = batchSize; t.baseLR = baseLR; t.warmupEpochs = warmupEpochs; t.minLR = minLR
        t.weightDecay = weightDecay; t.beta1 = beta1; t.beta2 = beta2; t.gradClip = gradClip
        t.flip = flip; t.crop = crop; t.cropPadding = cropPadding; t.cropScaleMin = cropScaleMin
        t.valFraction = valFraction ?? 0; t.valSeed = valSeed ?? 0; t.seed = seed; t.checkpointEvery = checkpointEvery
        return t
    }

    /// The recipe's knobs: JSON key (snake_case, in the classifier entry's manifest and checkpoints; a missing key
    /// keeps its default), `ldae-zoo finetune`'s flag (the usage text in Sources/ldae-zoo describes them) and range.
    /// `init` has no flag here: `--init` also takes an entry, so the command resolves it.
    public static let knobs: [Knob<FinetuneConfig>] = [
        .choice(\.initFrom, key: "init"),
        .choice(\.head, key: "head", flag: "head"),
        .int(\.epochs, key: "epochs", flag: "epochs", "N", .atLeast(1)),
        .int(\.batchSize, key: "batch_size", flag: "batch-size", "N", .atLeast(1)),
        .double(\.baseLR, key: "base_lr", flag: "lr", "LR", .above(0)),
        .double(\.layerDecay, key: "layer_decay", flag: "layer-decay", "X", .above(0, atMost: 1)),
        .double(\.warmupEpochs, key: "warmup_epochs", flag: "warmup-epochs", "X", .atLeast(0)),
        .double(\.minLR, key: "min_lr", flag: "min-lr", "LR", .atLeast(0)),
        .double(\.weightDecay, key: "weight_decay", flag: "weight-decay", "X", .atLeast(0)),
        .double(\.beta1, key: "beta1", flag: nil, "X", .within(0.0..<1.0)),
        .double(\.beta2, key: "beta2", flag: "beta2", "X", .within(0.0..<1.0)),
        .double(\.gradClip, key: "grad_clip", flag: "clip", "X", .atLeast(0)),
        .double(\.labelSmoothing, key: "label_smoothing", flag: "label-smoothing", "X", .within(0.0..<1.0)),
        .double(\.dropPath, key: "drop_path", flag: "drop-path", "X", .within(0.0..<1.0)),
        .switch(\.flip, key: "flip", flag: "no-flip", to: false),
        .choice(\.crop, key: "crop", flag: "crop"),
        .int(\.cropPadding, key: "crop_padding", flag: "crop-padding", "N", .within(0...64)),
        .double(\.cropScaleMin, key: "crop_scale_min", flag: "crop-scale-min", "X", .above(0, atMost: 1)),
        .optionalDouble(\.valFraction, key: "val_fraction", flag: "val-fraction", "X", .within(0.0..<1.0), absent: 0),
        .optionalSeed(\.valSeed, key: "val_seed", flag: "val-seed"),
        .int(\.evalEvery, key: "eval_every", flag: "eval-every", "N", .atLeast(0)),
        .int(\.evalMaxImages, key: "eval_max_images", flag: "eval-max-images", "N", .atLeast(0)),
        .seed(\.seed, key: "seed", flag: "seed"),
        .int(\.checkpointEvery, key: "checkpoint_every", flag: "checkpoint-every", "N", .atLeast(0)),
    ]
}
