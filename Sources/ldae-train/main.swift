import Foundation
import Ldae

let usage = usageText()
func usageText() -> String { """
usage: ldae-train --data SHARDS [--data SHARDS2] --pca pca.h5 --config micro|tiny|small|FILE.json
                  --epochs E --name NAME [options]
       ldae-train bench [--batch B] [--steps N] [--threads N] [--kernels]   (training-step benchmark of the tiny config)

l-DAE pretraining (latent denoising autoencoder, Chen/Liu/Xie/He 2024) of a ViT on HDF5 shards. On success the
weights, pca.h5, train_log.jsonl, loss_curve.png and config.json are published to the zoo as NAME/vN.

data and model:
  --data DIR            shard folder from ldae-prep (repeatable)
  --pca FILE            PCA basis from ldae-fit-pca (needed by --tokenizer pca)
  --config C            model preset (\(ModelPreset.choices); image/patch size taken from the shards) or a JSON file
  --encoder-width W --encoder-depth L --encoder-heads H --decoder-width W --decoder-depth L --decoder-heads H
  --mlp-ratio R            override the preset's or file's architecture
  --time-cond \(TimeCond.choices)   time conditioning of every block (default none: the encoder stays a plain timm ViT)
recipe (defaults = the paper's final l-DAE):
  --tokenizer \(TokenizerKind.choices)    noise in the top-d PCA latent (default) or in pixel space
  --latent-dim d           PCA components kept (default 16)
  --latent-scale \(LatentScale.choices)  scale of the latent before noise (default none; whiten = unit variance per
                           component, global = one factor for unit average variance)
  --schedule S             noise schedule (default ldae), one of:
\(NoiseScheduleKind.usageLines(indent: "                             "))
  --sigma-max S            largest sigma of the ldae schedule (default sqrt(2))
  --noise-levels \(NoiseLevels.choices)          t per image (default) or one fixed --sigma (default 1/3)
  --sigma S                sigma of single-level noise
  --target \(PredictionTarget.choices)     predict the clean image (default) or the noise (mapped to pixels)
  --input-scaling          z = gamma_t z0 + sigma_t eps (DDPM form; default: z0 + sigma_t eps)
  --residual-weight W      loss weight of the non-principal PCA components (default 0.1)
  --no-loss-weighting      drop lambda_t = 1/(1+sigma_t^2)
  --timesteps T            (default 1000)
optimization:
  --epochs E               (default 10)     --steps N   total steps (overrides epochs)
  --batch-size B           (default 128)
  --lr LR                  base learning rate per 256 images; actual = LR * B / 256 (default 1.5e-4)
  --min-lr LR              end of the cosine (default 0)
  --warmup-epochs E        linear warmup (default 1)
  --weight-decay W         AdamW decoupled decay, not on norms/biases/embeddings (default 0)
  --beta2 B                (default 0.95)
  --clip C                 gradient-norm clipping, 0 = off (default 1.0)
  --ema D                  EMA decay of weights, 0 = off (default); published weights = EMA when on
  --no-flip                no random horizontal flips
  --crop \(CropAugmentation.choices)      random crops (default none): pad = pad by --crop-padding (4) and crop back,
                           rrc = random-resized crop of area fraction [--crop-scale-min (0.35), 1]
  --val-fraction F         hold out this fraction of the training images as the validation split (default 0);
  --val-seed S             its seed (default 0); `ldae-zoo eval --val` probes on the same images
  --seed S                 (default 0): data order, flips, noise and init are functions of (seed, step)
  --threads N              worker and BLAS threads (default: all cores)
run, checkpoints, zoo:
  --out DIR                run folder (checkpoint, log, loss curve; default runs/NAME)
  --checkpoint-every N     steps between checkpoints (default 500; also on SIGINT/SIGTERM)
  --resume                 continue from DIR/checkpoint.safetensors (same losses as an uninterrupted run)
  --stop-after N           stop (with a checkpoint) once N steps are done
  --name NAME              zoo name      --zoo DIR   zoo root (default: $LDAE_ZOO or the repo's zoo/)
  --weights-dtype f32|f16  (default f32)
  --no-publish             train and checkpoint only
  --memory-budget-mb M     hold the shards in memory up to M MB, else stream them (default 1024)
  --quiet                  no progress lines
""" }

let argv = Array(CommandLine.arguments.dropFirst())

if argv.first == "bench" {
    runCommand("ldae-train bench") {
        let a = try Arguments(Array(argv.dropFirst()), options: ["batch", "steps", "threads", "warmup"], flags: ["kernels"])
        if a.wantsHelp {
            print("usage: ldae-train bench [--batch 128] [--steps 5] [--warmup 1] [--threads N] [--kernels]")
            print("  --kernels   per-kernel medians at the reference shapes (linear, attention, GELU, LayerNorm) next to")
            print("              OpenBLAS's own sgemm on the same shape, instead of the training-step benchmark")
            return
        }
        let batch = try a.int("batch", default: 128), steps = try a.int("steps", default: 5), threads = try a.int("threads", default: 0)
        if a.flag("kernels") {
            if threads > 0 { setenv("LDAE_THREADS", String(threads), 1) }   // before Parallel.workers is first read
            print("kernels: tiny-config shapes, batch \(batch), \(Parallel.workers) worker threads (median of \(steps))")
            ModelBenchmark.kernels(batch: batch, reps: steps)
            return
        }
        try TrainBench.run(batch: batch, steps: steps, warmup: try a.int("warmup", default: 1), threads: threads)
    }
}

runCommand("ldae-train") {
    let a = try Arguments(argv, options: [
        "data", "pca", "config", "epochs", "steps", "name", "batch-size", "lr", "min-lr", "warmup-epochs", "weight-decay",
        "beta2", "clip", "ema", "tokenizer", "latent-dim", "schedule", "noise-levels", "sigma", "target", "residual-weight",
        "time-cond", "seed", "threads", "checkpoint-every", "out", "zoo", "weights-dtype", "timesteps", "stop-after",
        "memory-budget-mb", "latent-scale", "sigma-max", "crop", "crop-padding", "crop-scale-min", "val-fraction", "val-seed",
        "encoder-width", "encoder-depth", "encoder-heads", "decoder-width", "decoder-depth", "decoder-heads", "mlp-ratio",
    ], flags: ["resume", "input-scaling", "no-publish", "no-flip", "no-loss-weighting", "quiet"])
    if a.wantsHelp { print(usage); return }
    guard a.positionals.isEmpty else { throw UsageError("unexpected argument '\(a.positionals[0])'") }
    let data = a.strings("data")
    guard !data.isEmpty else { throw UsageError("--data SHARDS is required") }
    guard let name = a.string("name") else { throw UsageError("--name NAME is required") }
    guard ZooStore.validName(name) else { throw UsageError("--name '\(name)' is not a valid zoo name (letters, digits, - _ .)") }

    let threads = try a.int("threads", default: 0)
    if threads > 0 {
        setenv("LDAE_THREADS", String(threads), 1)   // read once by the kernels' Parallel.workers
        BLAS.setThreads(threads)
    }

    var tc = TrainConfig()
    tc.tokenizer = try a.choice("tokenizer", default: tc.tokenizer)
    tc.latentDim = try a.int("latent-dim", default: tc.latentDim)
    tc.latentScale = try a.choice("latent-scale", default: tc.latentScale)
    tc.schedule = try a.choice("schedule", default: tc.schedule)
    tc.sigmaMax = try a.double("sigma-max", default: tc.sigmaMax)
    tc.noiseLevels = try a.choice("noise-levels", default: tc.noiseLevels)
    tc.singleSigma = try a.double("sigma", default: tc.singleSigma)
    tc.target = try a.choice("target", default: tc.target)
    tc.inputScaling = a.flag("input-scaling")
    tc.residualWeight = try a.double("residual-weight", default: tc.residualWeight)
    tc.lossWeighting = !a.flag("no-loss-weighting")
    tc.timesteps = try a.int("timesteps", default: tc.timesteps)
    tc.epochs = try a.int("epochs", default: tc.epochs)
    tc.batchSize = try a.int("batch-size", default: tc.batchSize)
    tc.baseLR = try a.double("lr", default: tc.baseLR)
    tc.minLR = try a.double("min-lr", default: tc.minLR)
    tc.warmupEpochs = try a.double("warmup-epochs", default: tc.warmupEpochs)
    tc.weightDecay = try a.double("weight-decay", default: tc.weightDecay)
    tc.beta2 = try a.double("beta2", default: tc.beta2)
    tc.gradClip = try a.double("clip", default: tc.gradClip)
    tc.ema = try a.double("ema", default: tc.ema)
    tc.flip = !a.flag("no-flip")
    tc.crop = try a.choice("crop", default: tc.crop)
    tc.cropPadding = try a.int("crop-padding", default: tc.cropPadding)
    tc.cropScaleMin = try a.double("crop-scale-min", default: tc.cropScaleMin)
    tc.valFraction = try a.double("val-fraction", default: tc.valFraction)
    if let s = a.string("val-seed") {
        guard let v = UInt64(s) else { throw UsageError("--val-seed expects a non-negative integer, got '\(s)'") }
        tc.valSeed = v
    }
    tc.checkpointEvery = try a.int("checkpoint-every", default: tc.checkpointEvery)
    if let s = a.string("seed") {
        guard let v = UInt64(s) else { throw UsageError("--seed expects a non-negative integer, got '\(s)'") }
        tc.seed = v
    }
    try tc.validate()

    // model config: a preset takes its image and patch size from the shards; a JSON file is used as is
    let cfgArg = a.string("config", default: "tiny")
    var mc: ModelConfig
    if let preset = ModelPreset(rawValue: cfgArg) {
        mc = preset.config
        let g = try ShardSet(data).geometry
        mc.imageSize = g.imageSize; mc.patchSize = g.patchSize; mc.channels = g.channels
    } else if cfgArg.hasSuffix(".json") || FileUtil.exists(cfgArg) {
        mc = try JSON.read(ModelConfig.self, path: cfgArg)
    } else {
        throw UsageError("--config must be \(ModelPreset.choiceList) or a JSON file, got '\(cfgArg)'")
    }
    mc.timeCond = try a.choice("time-cond", default: mc.timeCond)
    mc.encoderWidth = try a.int("encoder-width", default: mc.encoderWidth)
    mc.encoderDepth = try a.int("encoder-depth", default: mc.encoderDepth)
    mc.encoderHeads = try a.int("encoder-heads", default: mc.encoderHeads)
    mc.decoderWidth = try a.int("decoder-width", default: mc.decoderWidth)
    mc.decoderDepth = try a.int("decoder-depth", default: mc.decoderDepth)
    mc.decoderHeads = try a.int("decoder-heads", default: mc.decoderHeads)
    mc.mlpRatio = try a.int("mlp-ratio", default: mc.mlpRatio)
    do { try mc.validate() } catch let e as LdaeError { throw LdaeError(e.reason, file: ModelPreset(rawValue: cfgArg) == nil ? cfgArg : nil) }

    var o = TrainOptions(data: data, pcaPath: a.string("pca"), model: mc, train: tc, name: name, outDir: a.string("out"))
    o.steps = try a.int("steps")
    if let s = o.steps, s < 1 { throw UsageError("--steps must be >= 1") }
    o.resume = a.flag("resume")
    o.publish = !a.flag("no-publish")
    o.zoo = a.string("zoo")
    o.weightsDtype = try a.choice("weights-dtype", ["f32", "f16"], default: "f32") == "f16" ? .f16 : .f32
    o.stopAfter = try a.int("stop-after")
    o.memoryBudget = try a.int("memory-budget-mb", default: 1024) << 20
    o.quiet = a.flag("quiet")

    let trainer = try Trainer(o)        // every check happens here, before any training
    TrainSignals.install()
    let r = try trainer.run()
    switch r.stop {
    case .signal(let sig):
        eprint("ldae-train: interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(r.steps)/\(r.totalSteps); checkpoint saved to \(r.checkpoint); rerun the same command with --resume to continue")
        exit(128 + sig)
    case .stopAfter:
        print("stopped after step \(r.steps)/\(r.totalSteps) (--stop-after); checkpoint: \(r.checkpoint); continue with --resume")
    case .finished:
        print(String(format: "trained %d steps, final loss %.5f; run folder %@", r.steps, r.finalLoss, o.outDir))
        if let p = r.published { print("published \(name)@v\(p.version) at \(p.path)") }
    }
}
