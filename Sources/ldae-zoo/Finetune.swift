import Foundation
import Ldae

let finetuneUsage = """
usage: ldae-zoo finetune NAME[@vN] --train SHARDS --name CLASSIFIER [options]
       mpirun -np N ldae-zoo finetune ...          (data-parallel: --batch-size is the global batch)

Fine-tunes NAME's encoder with a linear head on labelled shards, end to end (MAE's fine-tuning recipe), validating on
a split held out of --train, and publishes the classifier as CLASSIFIER@vK in the zoo (parent, labels, recipe, CPU
seconds and the validation curve in its manifest; `ldae-zoo verify`, `predict`, `eval`, `export` take it).

starting point:
  --init pretrained|random|REF     NAME's weights (default); random: NAME's architecture from MAE's init (the
                                   from-scratch baseline); REF: another entry of the same architecture's weights
  --head pooled|readout            pooled (default): the mean of the final tokens after the norm, timm's head
                                   (exports as timm VisionTransformer(num_classes=C)); readout: NAME's recommended
                                   features (`ldae-zoo show` prints them, e.g. block 3 with grid4 pooling)
  --new-head                       start a new head when the starting entry is a classifier with one

recipe (defaults: MAE's ViT-B fine-tuning at CPU scale; docs/finetuning.md):
  --epochs 20 --batch-size 128     (--steps N overrides the epochs)
  --lr 5e-4                        base learning rate per 256 images (peak = lr * batch / 256)
  --layer-decay 0.75               block i's rate x decay^(depth + 1 - (i + 1)); embeddings decay^(depth + 1); 1: off
  --warmup-epochs 2 --min-lr 1e-6  linear warmup, then half-cycle cosine to min-lr
  --weight-decay 0.05 --beta2 0.999 --clip 0 (0: no clipping)
  --label-smoothing 0.1 --drop-path 0.1 (block i of L drops a branch with p = rate * i / (L - 1))
  --crop pad|rrc|none (pad) --crop-padding 4 --crop-scale-min 0.35 --no-flip
  --val-fraction F --val-seed S    the validation split (default: the one NAME was pretrained without, else 0.1)
  --eval-every N (0: every epoch) --eval-max-images N (0: all) --eval-batch 256
  --seed 0 --checkpoint-every 500

run:
  --out DIR (runs/CLASSIFIER) --zoo DIR --resume --stop-after N --no-publish --quiet
  --threads N (0: every core) --portable-kernels --memory-budget-mb 1024

Progress with rate and ETA; Ctrl-C / SIGTERM checkpoint and stop (rerun with --resume: the same losses, bit for
bit); train_log.jsonl, val_curve.jsonl, loss_curve.png, val_curve.png in the run folder.
"""

/// `ldae-zoo finetune NAME --train SHARDS --name CLASSIFIER`: parse, fine-tune, publish, and say how it stopped.
func runFinetune(_ argv: [String], world: Communicator) throws {
    let recipe = FinetuneConfig.knobs.declared()
    let a = try Arguments(argv, options: recipe.options.union(["zoo", "train", "init", "name", "out", "steps", "stop-after", "threads",
                                                               "memory-budget-mb", "eval-batch"]),
                          flags: recipe.switches.union(["resume", "no-publish", "quiet", "portable-kernels", "new-head"]))
    if a.wantsHelp { print(finetuneUsage); return }
    guard a.positionals.count == 1 else { throw UsageError("finetune takes one NAME[@vN] (the entry to start from)") }
    let data = a.strings("train")
    guard !data.isEmpty else { throw UsageError("finetune needs --train SHARDS (labelled shards from ldae-prep)") }
    guard let name = a.string("name") else { throw UsageError("finetune needs --name NAME (the classifier's name in the zoo)") }
    guard ZooStore.validName(name) else { throw UsageError("--name '\(name)' is not a valid zoo name (letters, digits, - _ .)") }
    var r = try FinetuneConfig.knobs.apply(a, to: FinetuneConfig())
    var initRef: String? = nil
    switch a.string("init") {
    case nil, "pretrained": break
    case "random": r.initFrom = .random
    case let ref?: initRef = ref
    }
    if a.flag("new-head") && r.initFrom == .random { throw UsageError("--new-head goes with a starting entry that has a head, not --init random") }
    var o = FinetuneOptions(parent: a.positionals[0], data: data, recipe: r, name: name, outDir: a.string("out"))
    o.initRef = initRef
    o.newHead = a.flag("new-head")
    o.zoo = zooStore(a).root
    o.steps = try a.int("steps")
    o.stopAfter = try a.int("stop-after")
    o.resume = a.flag("resume")
    o.publish = !a.flag("no-publish")
    o.quiet = a.flag("quiet")
    o.memoryBudget = try a.int("memory-budget-mb", default: 1024) << 20
    o.evalBatch = try a.int("eval-batch", default: 256)
    o.plan = try zooPlan(a)
    o.commandLine = SystemInfo.shellLine(["ldae-zoo", "finetune"] + argv)

    let ft = try Finetuner(o, world: world)   // every check happens here, before any training
    TrainSignals.install()
    let res = try ft.run()
    let status: Int32 = { if case .signal(let s) = res.stop { return 128 + s } else { return 0 } }()
    guard world.isRoot else { world.finish(status) }
    switch res.stop {
    case .signal(let sig):
        eprint("ldae-zoo finetune: interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(res.steps)/\(res.totalSteps); checkpoint saved to \(res.checkpoint); rerun the same command with --resume to continue")
    case .stopAfter:
        print("stopped after step \(res.steps)/\(res.totalSteps) (--stop-after); checkpoint: \(res.checkpoint); continue with --resume")
    case .finished:
        let v = ft.curve.last.map { String(format: "; validation top-1 %.2f%%, top-5 %.2f%% (%d images)", 100 * $0.top1, 100 * $0.top5, $0.images) } ?? ""
        print(String(format: "fine-tuned %d steps, final loss %.5f%@; run folder %@", res.steps, res.finalLoss, v, o.outDir))
        if let p = res.published { print("published \(name)@v\(p.version) at \(p.path)") }
    }
    world.finish(status)
}

/// --threads and --portable-kernels (fp32).
func zooPlan(_ a: Arguments) throws -> ExecutionPlan {
    let threads = try a.int("threads", default: 0)   // 0 or less: every core
    guard threads >= 0 else { throw UsageError("--threads must be >= 0 (0: every core)") }
    BLAS.setThreads(threads)
    return ExecutionPlan(threads: threads, fastKernels: !a.flag("portable-kernels"))
}
