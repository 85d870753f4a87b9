import Foundation
import Ldae

// ldae-zoo sample: DDPM / DDIM sampling and DDIM inversion from a zoo entry (Ldae/Sampling/).

let sampleUsage = """
usage: ldae-zoo sample NAME[@vN] [--n 64] [--steps 50] [--sampler ddim|ddpm] [--eta 0] [--seed 0]
                       [--out grid.png] [--npy F.npy] [--batch 64] [--cols 8] [--no-clip] [--allow-uncond]
                       [--pca pca.h5] [--zoo DIR]
       ldae-zoo sample NAME[@vN] --invert SHARDS [--n 16] [--steps 50] [--out grid.png] [--npy F.npy] ...

  Draws --n images from the entry's denoiser by DDPM ancestral sampling or DDIM (eta in [0, 1], 0 = deterministic)
  over --steps timesteps evenly spaced in 1...T (round(k T / steps), k = 1..steps; --steps T with ddpm is full DDPM).
  Noise lives where the entry was trained: the top-d PCA latent (pca tokenizer) or pixels; gamma_t only with input
  scaling. Prior z_T ~ N(gamma_T m, gamma_T^2 v + sigma_T^2) with m, v the data's latent mean and variance from the
  entry's PCA basis (pixel tokenizer: --pca, else the basis it was trained with, else m = 0, v = 1). x0hat is
  clamped to [-1, 1] at every step unless --no-clip. Deterministic for a given --seed (image i uses its own random stream, whatever --batch).
  --invert SHARDS: the first --n images are encoded to z_T by DDIM inversion (eta 0, no clamping) and regenerated
  with DDIM eta 0; the grid shows original | regenerated pairs and the PSNR on [0, 1] pixels is printed.
  --out: PNG grid (--cols images per row); --npy: the samples as float32 [n, H, W, 3] in [0, 1].
  Entries trained without timestep conditioning (--time-cond none) or at a single noise level are refused:
  their denoiser does not know the noise level. --allow-uncond samples them anyway (the model gets no t).
"""

/// What `ldae-zoo sample` was asked for.
struct SampleRequest {
    var n: Int, steps: Int, method: DiffusionSampler.Method, eta: Double, seed: UInt64, batch: Int, cols: Int
    var invert: String?, out: String?, npy: String?, clip: Bool

    init(_ a: Arguments) throws {
        invert = a.string("invert")
        n = try a.int("n", default: invert == nil ? 64 : 16)
        steps = try a.int("steps", default: 50)
        method = try a.choice("sampler", default: DiffusionSampler.Method.ddim)
        eta = try a.double("eta", default: 0)
        let seed = try a.int("seed", default: 0)
        batch = try a.int("batch", default: 64)
        cols = try a.int("cols", default: 8)
        guard n >= 1, steps >= 1, batch >= 1, cols >= 1, seed >= 0 else { throw UsageError("--n, --steps, --batch and --cols must be >= 1, --seed >= 0") }
        self.seed = UInt64(seed)
        guard eta >= 0 && eta <= 1 else { throw UsageError("--eta must be in [0, 1]") }
        if a.string("eta") != nil && (method == .ddpm || invert != nil) { throw UsageError("--eta applies to --sampler ddim only (inversion is eta 0)") }
        if invert != nil && a.string("sampler") != nil { throw UsageError("--invert always uses DDIM with eta 0; drop --sampler") }
        out = a.string("out"); npy = a.string("npy")
        guard out != nil || npy != nil else { throw UsageError("sample needs --out grid.png and/or --npy F.npy") }
        clip = !a.flag("no-clip")
    }
}

func runSample(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "n", "steps", "sampler", "eta", "seed", "out", "npy", "batch", "cols",
                                          "invert", "pca"],
                          flags: ["no-clip", "allow-uncond"])
    if a.wantsHelp { print(sampleUsage); return }
    guard a.positionals.count == 1 else { throw UsageError("sample takes one NAME[@vN]") }
    let r = try SampleRequest(a)
    let zm = try ZooModel(store: zooStore(a), ref: a.positionals[0])
    try refuseUnconditioned(zm, allow: a.flag("allow-uncond"))
    guard r.steps <= zm.manifest.training.timesteps else {
        throw UsageError("--steps must be <= the entry's \(zm.manifest.training.timesteps) training timesteps")
    }
    // the prior's statistics for pixel-tokenizer entries: --pca, else the basis the entry was trained with, if any
    var extraPCA: PCABasis? = nil
    if let p = a.string("pca") ?? (zm.pca == nil ? zm.manifest.tokenizer.pcaFile.map { zm.dir + "/" + $0 } : nil) {
        extraPCA = try PCABasis.load(p)
    }
    let sampler = try DiffusionSampler(zoo: zm, pca: extraPCA)
    let g = zm.manifest.model.geometry
    let (images, count, cols, summary) = try r.invert.map { try invertAndRegenerate(zm, sampler, r, from: $0) }
        ?? drawSamples(zm, sampler, r)
    if let out = r.out { try SampleOutput.writeGrid(out, images: images, count: images.count / g.valuesPerImage, cols: cols, geometry: g) }
    print(summary)
    if let out = r.out { print("wrote \(out)") }
    if let npy = r.npy { print("wrote \(npy): float32 [\(count), \(g.imageSize), \(g.imageSize), \(g.channels)] in [0, 1]") }
}

/// A denoiser that is not told the noise level cannot follow a trajectory: refused unless --allow-uncond.
func refuseUnconditioned(_ zm: ZooModel, allow: Bool) throws {
    let adaln = zm.manifest.model.timeCond == .adaln, single = zm.manifest.training.noiseLevels == .single
    guard (!adaln || single) && !allow else { return }
    let why = !adaln ? "without timestep conditioning (time_cond \(zm.manifest.model.timeCond.rawValue))" : "at a single noise level"
    throw LdaeError("\(zm.ref) was trained \(why), so its denoiser cannot follow a sampling trajectory; train with --time-cond adaln and multi-level noise (or pass --allow-uncond to try anyway)")
}

/// Draws r.n samples; the grid's images, their count, its columns and the summary line.
func drawSamples(_ zm: ZooModel, _ s: DiffusionSampler, _ r: SampleRequest) throws -> ([Float], Int, Int, String) {
    var sampler = s
    sampler.clipX0 = r.clip
    let ts = DiffusionSampler.evenlySpaced(steps: r.steps, of: zm.manifest.training.timesteps)
    let progress = ProgressLine("sample", total: r.n * ts.count, unit: "img-steps")
    let images = try sampler.generate(count: r.n, timesteps: ts, method: r.method, eta: r.eta, seed: r.seed, batch: r.batch,
                                      progress: progress, denoiser: DiffusionSampler.denoiser(zm.model))
    if isatty(2) != 0 { progress.finish() }   // a plain progress printed its last line at the last step
    if let npy = r.npy { try SampleOutput.writeNPY(npy, images: images, count: r.n, geometry: zm.manifest.model.geometry) }
    let summary = "\(r.n) samples of \(zm.ref): \(r.method.rawValue)" + (r.method == .ddim ? " eta \(r.eta)" : "") + ", \(ts.count) steps, seed \(r.seed)"
    return (images, r.n, r.cols, summary)
}

/// DDIM inversion of the first r.n images of `path` and their regeneration: original | regenerated pairs, PSNR.
func invertAndRegenerate(_ zm: ZooModel, _ s: DiffusionSampler, _ r: SampleRequest, from path: String) throws -> ([Float], Int, Int, String) {
    var sampler = s
    sampler.clipX0 = false
    let set = try ShardSet(path)
    try zm.checkGeometry(set)
    let g = zm.manifest.model.geometry, V = g.valuesPerImage, count = min(r.n, set.count)
    let ts = DiffusionSampler.evenlySpaced(steps: r.steps, of: zm.manifest.training.timesteps)
    let denoiser = DiffusionSampler.denoiser(zm.model)
    let clean = try FeatureExtractor.images(set, indices: Array(0..<count))
    let progress = ProgressLine("invert+regenerate", total: 2 * count * ts.count, unit: "img-steps")
    let zT = try sampler.invert(clean, count: count, timesteps: ts, batch: r.batch, progress: progress, denoiser: denoiser)
    let regen = try sampler.generate(count: count, timesteps: ts, method: .ddim, eta: 0, seed: r.seed, batch: r.batch,
                                     start: zT, progress: progress, denoiser: denoiser)
    if isatty(2) != 0 { progress.finish() }   // a plain progress printed its last line at the last step
    let psnr = PSNR.perImage(regen, reference: clean, count: count).reduce(0, +) / Double(count)
    var summary = "DDIM inversion + regeneration of \(count) images from \(path) (\(ts.count) steps): PSNR " + String(format: "%.2f dB", psnr)
    if let pca = zm.pca {
        let d = zm.manifest.tokenizer.latentDim
        let proj = pca.reconstruct(pca.project(clean, count: count * g.tokens, d: d), count: count * g.tokens, d: d)
        let ceil = PSNR.perImage(proj, reference: clean, count: count).reduce(0, +) / Double(count)
        summary += String(format: " (the PCA-%d projection alone: %.2f dB)", d, ceil)
    }
    var images: [Float] = []
    for i in 0..<count { images += clean[(i * V)..<((i + 1) * V)]; images += regen[(i * V)..<((i + 1) * V)] }
    if let npy = r.npy { try SampleOutput.writeNPY(npy, images: regen, count: count, geometry: g) }
    return (images, count, 2 * min(r.cols, count), summary)
}
