import Foundation

/// Everything `ldae-zoo finetune` needs besides the recipe (`FinetuneConfig`).
public struct FinetuneOptions {
    /// NAME[@vN]: the entry whose architecture the classifier has, and whose weights it starts from unless the recipe
    /// says `init random` or `initRef` names another entry.
    public var parent: String
    /// `--init REF`: another entry of the same architecture to take the starting weights from.
    public var initRef: String? = nil
    /// Start a new head even when the starting entry is a classifier with one.
    public var newHead = false
    public var data: [String]
    public var recipe: FinetuneConfig
    /// The classifier's zoo name; run folder (checkpoint, logs, curves) `outDir`, default `runs/NAME`.
    public var name: String
    public var outDir: String
    public var zoo: String? = nil
    /// Total optimizer steps; nil = epochs * steps per epoch.
    public var steps: Int? = nil
    /// Stop (checkpoint, like an interrupt) once this many steps are done.
    public var stopAfter: Int? = nil
    public var resume = false
    public var publish = true
    public var quiet = false
    public var memoryBudget = 1 << 30
    /// Images per validation batch.
    public var evalBatch = 256
    public var plan = ExecutionPlan.automatic
    public var commandLine = ""

    public init(parent: String, data: [String], recipe: FinetuneConfig, name: String, outDir: String? = nil) {
        self.parent = parent; self.data = data; self.recipe = recipe; self.name = name; self.outDir = outDir ?? "runs/" + name
    }
}

/// Fine-tuning (MAE's engine_finetune over steps): a `Classifier` trained end to end with labels; validation on the
/// held-out split every epoch; checkpoints, resume, signals and MPI as `Trainer`; publishes a classifier entry.
/// Every check happens in `init`, before any training. The loop is in Finetuner+Run.swift, state in +State.swift.
public final class Finetuner {
    public let options: FinetuneOptions
    /// The recipe with the validation split resolved (what the checkpoint and the entry record).
    public let recipe: FinetuneConfig
    public let store: ZooStore
    public let parent: Manifest
    /// The entry the starting weights came from (nil: random init).
    public let initEntry: Manifest?
    public let shards: ShardSet
    public let classNames: [String]
    public let classifier: Classifier
    public let loader: BatchLoader
    let labels: [Int32]
    /// This rank's share of the validation split (nil when nothing is held out).
    let validation: ValidationSet?
    public let valImages: Int
    public let encoderOptimizer: AdamW
    public let headOptimizer: AdamW
    public let lr: LRSchedule
    public let totalSteps: Int
    public internal(set) var step = 0
    var trainSeconds = 0.0, cpuSeconds = 0.0, evalCpuSeconds = 0.0, lastLoss = Double.nan
    var cpuAtStart = 0.0
    var cpuPerRank: [Double]
    var perRankSinceStep = 0
    var hosts: [String] = []
    var log: [TrainLogLine] = []
    public internal(set) var curve: [ValPoint] = []
    let runLock: FolderLock?
    public let world: any Communicator
    let slice: BatchSlice

    public var checkpointPath: String { options.outDir + "/" + FinetuneCheckpoint.fileName }
    public var logPath: String { options.outDir + "/train_log.jsonl" }
    public var curvePath: String { options.outDir + "/val_curve.jsonl" }
    public var publishedPath: String { options.outDir + "/published.json" }
    public var parentRef: String { "\(parent.name)@\(parent.version)" }

    public init(_ o: FinetuneOptions, world: any Communicator = SingleProcess()) throws {
        options = o
        self.world = world
        try o.recipe.validate()
        if let s = o.steps, s < 1 { throw LdaeError("invalid run: steps must be >= 1, got \(s)") }
        if let s = o.stopAfter, s < 0 { throw LdaeError("invalid run: stop_after must be >= 0, got \(s)") }
        guard o.evalBatch >= 1 else { throw LdaeError("invalid run: the validation batch must be >= 1") }
        store = ZooStore.resolve(o.zoo, environment: nil)
        let (pm, pdir) = try store.load(o.parent, verify: true)
        parent = pm
        let ppath = pdir + "/" + ZooStore.manifestFile
        guard pm.model.timeCond == .none, pm.model.numClasses == nil else {
            throw LdaeError("\(pm.name)@\(pm.version) conditions every block on \(pm.model.timeCond == .adaln ? "the noise level" : "a class label") (adaLN): it is not a plain ViT encoder and cannot be fine-tuned into a timm classifier", file: ppath)
        }
        var r = o.recipe
        var source: (Manifest, String)? = nil
        if r.initFrom == .pretrained {
            let ref = o.initRef ?? "\(pm.name)@\(pm.version)"
            let (im, idir) = try store.load(ref, verify: true)
            try FinetuneChecks.sameArchitecture(im, as: pm, file: idir + "/" + ZooStore.manifestFile)
            source = (im, idir)
        }
        initEntry = source?.0
        shards = try ShardSet(o.data)
        let g = shards.geometry
        guard g.imageSize == pm.model.imageSize, g.patchSize == pm.model.patchSize, g.channels == pm.model.channels else {
            throw LdaeError("shards have image_size \(g.imageSize), patch_size \(g.patchSize) but \(pm.name)@\(pm.version) takes image_size \(pm.model.imageSize), patch_size \(pm.model.patchSize)", file: shards.sources[0])
        }
        guard shards.labeled, shards.classNames.count >= 2 else {
            throw LdaeError("fine-tuning needs labelled shards with at least 2 classes (ldae-prep of a class-folder layout); these have \(shards.labeled ? "\(shards.classNames.count) class" : "no labels")", file: shards.sources[0])
        }
        classNames = shards.classNames
        let spec = try FinetuneChecks.headSpec(r.head, parent: pm, classes: classNames.count, file: ppath)
        // the validation split: the parent's when it held one out (so validation images were never pretrained on), else 10%
        if r.valFraction == nil { r.valFraction = pm.training.valFraction > 0 ? pm.training.valFraction : 0.1 }
        if r.valSeed == nil { r.valSeed = pm.training.valFraction > 0 ? pm.training.valSeed : 0 }
        recipe = r
        slice = try BatchSlice(globalBatch: r.batchSize, ranks: world.size, rank: world.rank)
        cpuPerRank = [Double](repeating: 0, count: world.size)
        classifier = try Classifier(config: pm.model, spec: spec, dropPath: r.dropPath, seed: r.seed, plan: o.plan)
        if let src = source {
            let (im, idir) = src
            let wpath = idir + "/" + ZooStore.weightsFile
            let head = try FinetuneChecks.reusesHead(im, spec: spec, classNames: classNames, newHead: o.newHead, file: idir + "/" + ZooStore.manifestFile)
            let (tensors, _, _) = try Safetensors.read(wpath)
            do { try classifier.load(tensors, head: head) } catch let e as LdaeError { throw LdaeError(e.reason, file: e.file ?? wpath) }
        }
        loader = try BatchLoader(shards: shards, config: r.loaderConfig, memoryBudget: o.memoryBudget, slice: world.isDistributed ? slice.range : nil)
        labels = try shards.allLabels()
        try FinetuneChecks.labelled(loader.trainIndices, labels: labels, classes: classNames.count, shards: shards, what: "training")
        var valIdx = HoldOut(fraction: r.valFraction ?? 0, seed: r.valSeed ?? 0).split(count: shards.count).val
        valIdx = FeatureExtractor.selection(count: valIdx.count, max: r.evalMaxImages > 0 ? r.evalMaxImages : nil, seed: r.valSeed ?? 0).map { valIdx[$0] }
        try FinetuneChecks.labelled(valIdx, labels: labels, classes: classNames.count, shards: shards, what: "validation")
        valImages = valIdx.count
        let mine = Array(valIdx[ImageFolder.partRange(count: valIdx.count, part: world.rank, of: world.size)])
        validation = valIdx.isEmpty ? nil : try ValidationSet(shards, indices: mine, labels: labels)
        totalSteps = o.steps ?? r.epochs * loader.stepsPerEpoch
        guard totalSteps >= 1 else { throw LdaeError("nothing to train: 0 steps") }
        lr = LRSchedule(peak: r.baseLR * Double(r.batchSize) / 256, minLR: r.minLR,
                        warmupSteps: min(totalSteps, Int((r.warmupEpochs * Double(loader.stepsPerEpoch)).rounded())), totalSteps: totalSteps)
        encoderOptimizer = AdamW(count: classifier.model.parameterCount, segments: LayerDecay.encoderSegments(classifier, decay: r.layerDecay),
                                 beta1: r.beta1, beta2: r.beta2, weightDecay: r.weightDecay)
        headOptimizer = AdamW(count: classifier.headCount, segments: LayerDecay.headSegments(classifier),
                              beta1: r.beta1, beta2: r.beta2, weightDecay: r.weightDecay)
        // one writer per run folder (rank 0 alone owns it; the other ranks get its state in joinWorld)
        runLock = world.isRoot ? try FolderLock.acquire(o.outDir, command: "ldae-zoo finetune") : nil
        if !world.isRoot {
        } else if o.resume {
            try restore()
        } else if FileUtil.exists(checkpointPath) {
            throw LdaeError("the run folder already holds a checkpoint; pass --resume to continue it, or choose another --out", file: checkpointPath)
        }
        try joinWorld()
        hosts = try gatherHosts()
        if world.isRoot && !o.quiet, let note = FinetuneChecks.splitNote(pm, recipe: r, data: shards) { eprint("ldae-zoo finetune: note: " + note) }
    }
}
