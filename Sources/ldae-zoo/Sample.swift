import Foundation
import Ldae

// ldae-zoo sample: DDPM / DDIM sampling and DDIM inversion from a zoo entry (issue 18; Ldae/Sampling/Sampler.swift).

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

func runSample(_ argv: [String]) throws {
    let a = try Arguments(argv, options: ["zoo", "n", "steps", "sampler", "eta", "seed", "out", "npy", "batch", "cols",
                                          "invert", "pca"],
                          flags: ["no-clip", "allow-uncond"])
    if a.wantsHelp { print(sampleUsage); return }
    guard a.positionals.count == 1 else { throw UsageError("sample takes one NAME[@vN]") }
    let invertPath = a.string("invert")
    let n = try a.int("n", default: invertPath == nil ? 64 : 16)
    let steps = try a.int("steps", default: 50)
    let method = DiffusionSampler.Method(rawValue: try a.choice("sampler", ["ddim", "ddpm"], default: "ddim"))!
    let eta = try a.double("eta", default: 0)
    let seed = try a.int("seed", default: 0)
    let batch = try a.int("batch", default: 64)
    let cols = try a.int("cols", default: 8)
    guard n >= 1, steps >= 1, batch >= 1, cols >= 1, seed >= 0 else { throw UsageError("--n, --steps, --batch and --cols must be >= 1, --seed >= 0") }
    guard eta >= 0 && eta <= 1 else { throw UsageError("--eta must be in [0, 1]") }
    if a.string("eta") != nil && (method == .ddpm || invertPath != nil) { throw UsageError("--eta applies to --sampler ddim only (inversion is eta 0)") }
    if invertPath != nil && a.string("sampler") != nil { throw UsageError("--invert always uses DDIM with eta 0; drop --sampler") }
    let out = a.string("out"), npy = a.string("npy")
    guard out != nil || npy != nil else { throw UsageError("sample needs --out grid.png and/or --npy F.npy") }

    let store = ZooStore.resolve(a.string("zoo"))
    let zm = try ZooModel(store: store, ref: a.positionals[0])
    let tc = zm.manifest.training
    let adaln = "\(zm.manifest.model.timeCond)" == "adaln", single = "\(tc.noiseLevels)" == "single"
    if (!adaln || single) && !a.flag("allow-uncond") {
        let why = !adaln ? "without timestep conditioning (time_cond \(zm.manifest.model.timeCond))" : "at a single noise level"
        throw LdaeError("\(zm.ref) was trained \(why), so its denoiser cannot follow a sampling trajectory; train with --time-cond adaln and multi-level noise (or pass --allow-uncond to try anyway)")
    }
    let T = tc.timesteps
    guard steps <= T else { throw UsageError("--steps must be <= the entry's \(T) training timesteps") }
    // the prior's statistics for pixel-tokenizer entries: --pca, else the basis the entry was trained with, if any
    var extraPCA: PCABasis? = nil
    if let p = a.string("pca") ?? (zm.pca == nil ? zm.manifest.tokenizer.pcaFile.map { zm.dir + "/" + $0 } : nil) {
        extraPCA = try PCABasis.load(p)
    }
    var sampler = try DiffusionSampler(zoo: zm, pca: extraPCA)
    let g = zm.manifest.model.geometry, V = g.valuesPerImage
    let ts = DiffusionSampler.evenlySpaced(steps: steps, of: T)
    let denoiser = DiffusionSampler.denoiser(zm.model)

    var images: [Float], count: Int, gridCols: Int
    var summary: String
    if let invertPath {
        let set = try ShardSet(invertPath)
        try zm.checkGeometry(set)
        count = min(n, set.count)
        let clean = try FeatureExtractor.images(set, indices: Array(0..<count))
        let progress = Progress("invert+regenerate", total: 2 * count * ts.count, unit: "img-steps")
        sampler.clipX0 = false
        let zT = try sampler.invert(clean, count: count, timesteps: ts, batch: batch, progress: progress, denoiser: denoiser)
        let regen = try sampler.generate(count: count, timesteps: ts, method: .ddim, eta: 0, seed: UInt64(seed), batch: batch,
                                         start: zT, progress: progress, denoiser: denoiser)
        if isatty(2) != 0 { progress.finish() }   // a plain progress printed its last line at the last step
        let psnr = PSNR.perImage(regen, reference: clean, count: count).reduce(0, +) / Double(count)
        summary = "DDIM inversion + regeneration of \(count) images from \(invertPath) (\(ts.count) steps): PSNR " + String(format: "%.2f dB", psnr)
        if let pca = zm.pca {
            let d = zm.manifest.tokenizer.latentDim
            let proj = pca.reconstruct(pca.project(clean, count: count * g.tokens, d: d), count: count * g.tokens, d: d)
            let ceil = PSNR.perImage(proj, reference: clean, count: count).reduce(0, +) / Double(count)
            summary += String(format: " (the PCA-%d projection alone: %.2f dB)", d, ceil)
        }
        // pairs original | regenerated, min(cols, count) pairs per row
        images = []
        for i in 0..<count {
            images += clean[(i * V)..<((i + 1) * V)]
            images += regen[(i * V)..<((i + 1) * V)]
        }
        gridCols = 2 * min(cols, count)
        if let npy { try SampleOutput.writeNPY(npy, images: regen, count: count, geometry: g) }
    } else {
        count = n
        sampler.clipX0 = !a.flag("no-clip")
        let progress = Progress("sample", total: n * ts.count, unit: "img-steps")
        images = try sampler.generate(count: n, timesteps: ts, method: method, eta: eta, seed: UInt64(seed), batch: batch,
                                      progress: progress, denoiser: denoiser)
        if isatty(2) != 0 { progress.finish() }   // a plain progress printed its last line at the last step
        gridCols = cols
        summary = "\(n) samples of \(zm.ref): \(method.rawValue)" + (method == .ddim ? " eta \(eta)" : "") + ", \(ts.count) steps, seed \(seed)"
        if let npy { try SampleOutput.writeNPY(npy, images: images, count: n, geometry: g) }
    }
    if let out { try SampleOutput.writeGrid(out, images: images, count: images.count / V, cols: gridCols, geometry: g) }
    print(summary)
    if let out { print("wrote \(out)") }
    if let npy { print("wrote \(npy): float32 [\(count), \(g.imageSize), \(g.imageSize), \(g.channels)] in [0, 1]") }
}
