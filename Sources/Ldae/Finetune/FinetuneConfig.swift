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

    /// Acronym fields need explicit keys (snake_case JSON decodes "base_lr" as "baseLr").
    enum CodingKeys: String, CodingKey {
        case initFrom = "init", head, epochs, batchSize, baseLR = "baseLr", layerDecay, warmupEpochs, minLR = "minLr"
        case weightDecay, beta1, beta2, gradClip, labelSmoothing, dropPath, flip, crop, cropPadding, cropScaleMin
        case valFraction, valSeed, evalEvery, evalMaxImages, seed, checkpointEvery
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        initFrom = try v(.initFrom, initFrom); head = try v(.head, head); epochs = try v(.epochs, epochs)
        batchSize = try v(.batchSize, batchSize); baseLR = try v(.baseLR, baseLR); layerDecay = try v(.layerDecay, layerDecay)
        warmupEpochs = try v(.warmupEpochs, warmupEpochs); minLR = try v(.minLR, minLR); weightDecay = try v(.weightDecay, weightDecay)
        beta1 = try v(.beta1, beta1); beta2 = try v(.beta2, beta2); gradClip = try v(.gradClip, gradClip)
        labelSmoothing = try v(.labelSmoothing, labelSmoothing); dropPath = try v(.dropPath, dropPath); flip = try v(.flip, flip)
        crop = try v(.crop, crop); cropPadding = try v(.cropPadding, cropPadding); cropScaleMin = try v(.cropScaleMin, cropScaleMin)
        valFraction = try c.decodeIfPresent(Double.self, forKey: .valFraction)
        valSeed = try c.decodeIfPresent(UInt64.self, forKey: .valSeed)
        evalEvery = try v(.evalEvery, evalEvery); evalMaxImages = try v(.evalMaxImages, evalMaxImages)
        seed = try v(.seed, seed); checkpointEvery = try v(.checkpointEvery, checkpointEvery)
    }

    /// Every range check of the recipe, for the command line and library users alike.
    public func validate() throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid fine-tuning config: \(s)") }
        guard epochs >= 1, batchSize >= 1, baseLR > 0, baseLR.isFinite else { throw bad("epochs, batch_size and base_lr must be positive") }
        guard layerDecay > 0 && layerDecay <= 1 else { throw bad("layer_decay must be in (0, 1]") }
        guard warmupEpochs >= 0, minLR >= 0, weightDecay >= 0, gradClip >= 0 else {
            throw bad("warmup_epochs, min_lr, weight_decay and clip must be >= 0")
        }
        guard beta1 >= 0 && beta1 < 1, beta2 >= 0 && beta2 < 1 else { throw bad("beta1 and beta2 must be in [0, 1)") }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw bad("label_smoothing must be in [0, 1)") }
        guard dropPath >= 0 && dropPath < 1 else { throw bad("drop_path must be in [0, 1)") }
        guard cropPadding >= 0 && cropPadding <= 64 else { throw bad("crop_padding must be in 0...64") }
        guard cropScaleMin > 0 && cropScaleMin <= 1 else { throw bad("crop_scale_min must be in (0, 1]") }
        if let f = valFraction { guard f >= 0 && f < 1 else { throw bad("val_fraction must be in [0, 1)") } }
        guard evalEvery >= 0, evalMaxImages >= 0, checkpointEvery >= 0 else { throw bad("eval_every, eval_max_images and checkpoint_every must be >= 0") }
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

    /// `ldae-zoo finetune`'s recipe flags (one row per flag; the usage text in Sources/ldae-zoo describes them).
    public static var flags: [ConfigFlag<FinetuneConfig>] {
        [.choice("head", \.head), .int("epochs", \.epochs), .int("batch-size", \.batchSize), .double("lr", \.baseLR),
         .double("layer-decay", \.layerDecay), .double("warmup-epochs", \.warmupEpochs), .double("min-lr", \.minLR),
         .double("weight-decay", \.weightDecay), .double("beta2", \.beta2), .double("clip", \.gradClip),
         .double("label-smoothing", \.labelSmoothing), .double("drop-path", \.dropPath), .switch("no-flip", \.flip, to: false),
         .choice("crop", \.crop), .int("crop-padding", \.cropPadding), .double("crop-scale-min", \.cropScaleMin),
         .optionalDouble("val-fraction", \.valFraction), .optionalSeed("val-seed", \.valSeed), .int("eval-every", \.evalEvery),
         .int("eval-max-images", \.evalMaxImages), .int("checkpoint-every", \.checkpointEvery), .seed("seed", \.seed)]
    }
}

extension ConfigFlag {
    /// An optional seed (nil until given).
    public static func optionalSeed(_ name: String, _ field: WritableKeyPath<Config, UInt64?>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in if let v = try a.uint64(name) { c[keyPath: field] = v } }
    }
}
