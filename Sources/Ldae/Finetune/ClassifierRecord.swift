import Foundation

/// The manifest's `classifier` section: what makes a zoo entry a classifier (written by `ldae-zoo finetune`, read by
/// `predict`, `eval`, `export` and the model card). The entry's `model` is the encoder (no decoder), its `training`
/// the loader's half of the recipe (batches, augmentation, held-out split), its `tokenizer` pixel (the classifier
/// reads pixels scaled x/127.5 - 1).
public struct ClassifierInfo: Codable, Sendable, Equatable {
    /// The entry whose architecture it has (NAME@vN) and the sha256 of that entry's weights.
    public var parent: String
    public var parentWeightsSHA256: String
    /// `pretrained`: the encoder started from `initEntry`'s weights; `random`: from MAE's initialisation.
    public var initFrom: FinetuneInit
    /// NAME@vN the starting weights came from (the parent, or `--init REF`); nil for a random start.
    public var initEntry: String?
    public var head: HeadSpec
    /// The label names, in label order (the training shards' class names): logit i is class_names[i].
    public var classNames: [String]
    /// The whole fine-tuning recipe, resolved (the validation split included).
    public var recipe: FinetuneConfig
    /// CPU seconds of the training steps over every process, across resumes (validation not included), and of the
    /// validation passes.
    public var cpuSeconds: Double
    public var evalCpuSeconds: Double
    /// The validation curve (also `val_curve.jsonl` and `val_curve.png` in the entry).
    public var valCurve: [ValPoint]
    /// How `predict` turns an image file into the input: the training shards' preparation.
    public var preprocess: Preprocess

    enum CodingKeys: String, CodingKey {
        case parent, parentWeightsSHA256 = "parentWeightsSha256", initFrom = "init", initEntry, head, classNames, recipe
        case cpuSeconds, evalCpuSeconds, valCurve, preprocess
    }

    /// `ldae-prep`'s settings the training shards were made with (index.json `settings`), for files read later.
    public struct Preprocess: Codable, Sendable, Equatable {
        public var imageSize: Int
        public var patchSize: Int
        public var resize: String
        public var filter: String
        public var pngGamma: String

        public init(imageSize: Int, patchSize: Int, resize: String = "crop", filter: String = "bicubic", pngGamma: String = "ignore") {
            self.imageSize = imageSize; self.patchSize = patchSize; self.resize = resize; self.filter = filter; self.pngGamma = pngGamma
        }

        /// From a shard set's first index (keys it lacks take `ldae-prep`'s defaults).
        public init(_ s: ShardSet) {
            let st = s.indices[0].settings
            self.init(imageSize: s.geometry.imageSize, patchSize: s.geometry.patchSize, resize: st["resize"] ?? s.indices[0].resize,
                      filter: st["filter"] ?? "bicubic", pngGamma: st["png_gamma"] ?? "ignore")
        }

        /// The decoder's settings (a word this build does not know is an error naming it).
        public func settings(file: String) throws -> ImageProcessor.Settings {
            guard let policy = Resize.Policy(rawValue: resize) else { throw LdaeError("unknown resize '\(resize)' in the classifier's preprocess", file: file) }
            guard let f = ResampleFilter(rawValue: filter) else { throw LdaeError("unknown filter '\(filter)' in the classifier's preprocess", file: file) }
            guard let g = PNGGamma(rawValue: pngGamma) else { throw LdaeError("unknown png_gamma '\(pngGamma)' in the classifier's preprocess", file: file) }
            var s = ImageProcessor.Settings(geometry: PatchGeometry(imageSize: imageSize, patchSize: patchSize), policy: policy, filter: f)
            s.pngGamma = g
            return s
        }
    }
}

/// One point of the validation curve (`val_curve.jsonl`): after `step` updates, the held-out split's loss (plain
/// cross-entropy, no smoothing), top-1 and top-5, against the training CPU seconds spent so far.
public struct ValPoint: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    /// CPU seconds of the training steps so far (every process; validation excluded) and their wall seconds.
    public var cpuSeconds: Double
    public var wallSeconds: Double
    public var images: Int
    public var loss: Double
    public var top1: Double
    public var top5: Double
    /// The mean training loss (label-smoothed) of the steps since the previous point (nil at step 0).
    public var trainLoss: Double?
    public init(step: Int, epoch: Double, cpuSeconds: Double, wallSeconds: Double, images: Int, loss: Double, top1: Double,
                top5: Double, trainLoss: Double?) {
        self.step = step; self.epoch = epoch; self.cpuSeconds = cpuSeconds; self.wallSeconds = wallSeconds; self.images = images
        self.loss = loss; self.top1 = top1; self.top5 = top5; self.trainLoss = trainLoss
    }
}

extension Manifest {
    /// Whether the entry is a classifier (`ldae-zoo finetune`).
    public var isClassifier: Bool { classifier != nil }

    /// The classifier section, or an error naming the entry (for commands that need one).
    public func requireClassifier(_ what: String) throws -> ClassifierInfo {
        guard let c = classifier else {
            throw LdaeError("\(name)@\(version) is not a classifier (no `classifier` in its manifest; `ldae-zoo finetune` makes one): \(what) needs one")
        }
        return c
    }
}

extension ClassifierInfo {
    /// `ldae-zoo show` of a classifier entry: its head, labels, recipe, validation curve and evaluations.
    public static func show(_ m: Manifest, dir: String) -> String {
        guard let c = m.classifier else { return "" }
        let r = c.recipe, h = c.head
        var L: [String] = ["", "classifier"]
        L.append("  from           \(c.initFrom == .random ? "random init of \(c.parent)'s architecture" : c.initEntry ?? c.parent) (parent \(c.parent))")
        L.append("  head           \(h.kind.rawValue): layers \(h.layers.map(\.description).joined(separator: ",")), \(h.pooling.rawValue) pooling, \(h.features) -> \(h.classes)")
        L.append("  labels         " + c.classNames.joined(separator: ", "))
        L.append(String(format: "  recipe         lr %g x layer decay %g, wd %g, warmup %g, label smoothing %g, drop path %g, crop %@, val %g (seed %llu)",
                        r.baseLR, r.layerDecay, r.weightDecay, r.warmupEpochs, r.labelSmoothing, r.dropPath, r.crop.rawValue, r.valFraction ?? 0, r.valSeed ?? 0))
        L.append(String(format: "  cpu            %.1f CPU-minutes of training, %.1f of validation", c.cpuSeconds / 60, c.evalCpuSeconds / 60))
        if let last = c.valCurve.last, let best = c.valCurve.max(by: { $0.top1 < $1.top1 }) {
            L.append(String(format: "  validation     final top-1 %.2f%% (step %d), best %.2f%% (step %d); %d points in val_curve.jsonl",
                            100 * last.top1, last.step, 100 * best.top1, best.step, c.valCurve.count))
        }
        for e in ClassifierEvalRecord.readAll(dir + "/" + ZooStore.evalsFile) {
            L.append(String(format: "  eval           %@ %@: %d images, top-1 %.2f%%, top-5 %.2f%%", String(e.date.prefix(19)), e.split, e.data.used, 100 * e.top1, 100 * e.top5))
        }
        return L.joined(separator: "\n")
    }
}
