import Foundation
import Ldae

let usage = """
usage: ldae-fit-tokenizer SHARDS... --kind \(TokenizerRegistry.fittedChoices) --latent-dim d --out FILE.h5 [options]

Fits one of the l-DAE paper's learned tokenizers (its Table 2) on the shard folders written by ldae-prep, in the
pixel scaling training uses (\(PixelScaling.name)), and writes one HDF5 file that h5py opens (kind, d, the weights
as w.NAME, the latent's variance per component, the loss curve, the shards' index sha256). Train on it with
`ldae-train --tokenizer-file FILE.h5`. The patch PCA tokenizer is ldae-fit-pca's; pixels need no file.

kinds:
\(TokenizerRegistry.usageLines(indent: "  "))

  SHARDS              one or more shard folders (or their index.json)
  --kind K            the tokenizer (required)
  --latent-dim d      latent size per patch (default 16)
  --out PATH          the file to write; a checkpoint PATH.ckpt.h5 is kept while fitting
  --steps N           Adam steps (default 2000), each on --batch-size images (default 64; all their patches)
  --lr LR             Adam's rate after 100 warmup steps (default 2e-3)
  --kl-weight W       KL weight of the VAEs per latent element against the per-value MSE (default 1e-3)
  --width W           conv-vae's base channel count (default 32)
  --init random|pca   patch-ae/patch-vae start: random (default) or the PCA basis of the first batch's patches
  --seed S            (default 0): init, batch order and the VAE's posterior noise
  --checkpoint-every N  steps between checkpoints (default 500; also on SIGINT/SIGTERM)
  --resume            continue from PATH.ckpt.h5 (the same result as an uninterrupted fit); a finished PATH of
                      the same settings and shards is kept as is
  --threads N         BLAS threads (default 1: the fit is small)
  --quiet             no progress lines
  --no-figures        do not write PATH's reconstruction figure (<stem>-reconstructions.png)
"""

runCommand("ldae-fit-tokenizer") {
    let a = try Arguments(Array(CommandLine.arguments.dropFirst()),
                          options: ["kind", "latent-dim", "out", "steps", "batch-size", "lr", "kl-weight", "width", "init", "seed",
                                    "checkpoint-every", "threads"],
                          flags: ["resume", "quiet", "no-figures"])
    if a.wantsHelp { print(usage); return }
    guard !a.positionals.isEmpty else { throw UsageError("give at least one shard folder") }
    guard let out = a.string("out") else { throw UsageError("--out PATH is required") }
    guard let kw = a.string("kind") else { throw UsageError("--kind is required (\(TokenizerRegistry.fittedChoices))") }
    guard let kind = TokenizerKind(rawValue: kw), kind.isFitted else {
        throw UsageError("--kind must be one of \(TokenizerRegistry.fittedChoices), got '\(kw)'" + (kw == "pca" ? " (the PCA tokenizer is ldae-fit-pca's)" : ""))
    }
    var s = TokenizerFitSettings()
    s.kind = kind
    s.latentDim = try a.int("latent-dim", default: s.latentDim)
    s.steps = try a.int("steps", default: s.steps)
    s.batchSize = try a.int("batch-size", default: s.batchSize)
    s.lr = try a.double("lr") ?? s.lr
    s.klWeight = try a.double("kl-weight") ?? s.klWeight
    s.width = try a.int("width", default: s.width)
    s.initPCA = try a.choice("init", default: TokenizerInit.random) == .pca
    s.seed = try a.uint64("seed") ?? 0
    do { try s.validate() } catch let e as LdaeError { throw UsageError(e.reason) }
    let threads = try a.int("threads", default: 1)
    guard threads >= 1 else { throw UsageError("--threads must be at least 1, got \(threads)") }
    BLAS.setThreads(threads)
    let every = try a.int("checkpoint-every", default: 500)
    guard every >= 0 else { throw UsageError("--checkpoint-every must be >= 0") }

    let outDir = URL(fileURLWithPath: out).deletingLastPathComponent().path
    guard FileUtil.isDirectory(outDir) else { throw LdaeError("output folder does not exist", file: outDir) }
    if FileUtil.isDirectory(out) { throw LdaeError("is a folder, expected a file name such as tokenizer.h5", file: out) }
    let lock = try FolderLock.acquire(outDir, command: "ldae-fit-tokenizer", name: "." + URL(fileURLWithPath: out).lastPathComponent + ".lock")
    defer { lock.release() }
    let set = try ShardSet(a.positionals)
    if a.flag("resume") && FileUtil.exists(out) && !FileUtil.exists(TokenizerFit.checkpointPath(out)),
       let done = try? TokenizerFile.load(out), done.settings == s, done.indexSHA256 == set.indexSHA256 {
        eprint("ldae-fit-tokenizer: \(out) is already complete for these shards and settings: nothing to do (--resume)")
        return
    }
    var o = TokenizerFit.Options(data: a.positionals, out: out, settings: s)
    o.resume = a.flag("resume"); o.quiet = a.flag("quiet"); o.checkpointEvery = every
    let g = set.geometry
    if !o.quiet {
        eprint("ldae-fit-tokenizer: \(kind.rawValue), d = \(s.latentDim), \(set.count) images of \(g.imageSize)px, patch \(g.patchSize) (D = \(g.tokenDim)), \(s.steps) steps of \(s.batchSize) images")
    }
    TrainSignals.install()
    let start = Date()
    let (stop, f) = try TokenizerFit.run(o)
    if stop == .stopAfter { eprint("ldae-fit-tokenizer: stopped after step \(f.stepsDone)"); return }
    if case .signal(let sig) = stop {
        eprint("ldae-fit-tokenizer: interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(f.stepsDone)/\(s.steps); checkpoint \(TokenizerFit.checkpointPath(out)); rerun with --resume")
        exit(128 + sig)
    }
    print(String(format: "wrote %@ (%@, d = %d, %d steps in %.1f s): reconstruction MSE %.5f (PSNR %.2f dB) on %d images, latent scale %.4g",
                 out, kind.rawValue, s.latentDim, s.steps, Date().timeIntervalSince(start), f.reconMSE, 10 * log10(4 / f.reconMSE),
                 min(o.statImages, set.count), f.latentScale))
    print("latent variance per component: " + f.latentVariance.map { String(format: "%.3g", $0) }.joined(separator: " "))
    if !a.flag("no-figures") {
        let fig = TokenizerFigures.figurePath(for: out)
        let model = try TokenizerRegistry.definition(kind).model(f)   // the fitted file in memory: no reread
        try TokenizerFigures.reconstructions(model, images: try PCAFigures.sampleImages(set, count: 8), geometry: g).writePNG(fig)
        print("wrote \(fig) (columns: original, reconstruction)")
    }
}
