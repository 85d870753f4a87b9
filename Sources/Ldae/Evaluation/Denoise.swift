import Foundation

/// Denoising quality (the paper's Figure 1): clean test images are corrupted exactly as in training
/// (`LDAEObjective.corrupt` at the schedule's noise level t), the model reconstructs them, and PSNR on [0, 1]
/// pixels is reported for the noisy input, the model's output, and the PCA-only ceiling (the clean image projected
/// to the top d components: what a perfect latent denoiser could reach, since the residual is never seen).
public enum DenoiseEval {
    public struct Output {
        public var result: EvalRecord.Denoising
        /// First `figureImages` images per level: noisy and denoised [n, T, D] (pixel-scaled).
        public var noisy: [[Float]]
        public var denoised: [[Float]]
        public var pcaProjected: [Float]?
    }

    /// clean: pixel-scaled patches [n, T, D]. levels: timesteps in 1...timesteps.
    public static func run(model: LDAEModel, objective: LDAEObjective, schedule: NoiseSchedule, pca: PCABasis?,
                           clean: [Float], count n: Int, levels: [Int], seed: UInt64, batch: Int = 64,
                           keep: Int = 8) throws -> Output {
        let g = objective.geometry, V = g.valuesPerImage, T = g.tokens, D = g.tokenDim
        require(clean.count == n * V && n > 0)
        let cfg = objective.config
        for t in levels where t < 1 || t > schedule.timesteps {
            throw LdaeError("denoising timestep \(t) is outside 1...\(schedule.timesteps)")
        }
        var ceiling: Double? = nil
        var projected: [Float]? = nil
        if cfg.tokenizer == .pca, let pca {
            let z = pca.project(clean, count: n * T, d: cfg.latentDim)
            let r = pca.reconstruct(z, count: n * T, d: cfg.latentDim)
            ceiling = PSNR.perImage(r, reference: clean, count: n).reduce(0, +) / Double(n)
            projected = Array(r[0..<(min(keep, n) * V)])
        }
        var levelsOut: [EvalRecord.DenoiseLevel] = []
        var keptNoisy: [[Float]] = [], keptDenoised: [[Float]] = []
        let progress = ProgressLine("denoise", total: n * levels.count, unit: "img")
        for t in levels {
            let (gm, sg) = schedule.gammaSigma(t)
            let gamma = cfg.inputScaling ? gm : 1
            var rng = RNG(seed: seed, stream: UInt64(t))
            var noisy = [Float](repeating: 0, count: n * V), out = [Float](repeating: 0, count: n * V)
            var start = 0
            while start < n {
                let b = min(batch, n - start)
                let tv = [Float](repeating: Float(t - 1) / Float(schedule.timesteps), count: b)   // as TrainStep: (t - 1) / T
                clean.withUnsafeBufferPointer { cp in noisy.withUnsafeMutableBufferPointer { np in out.withUnsafeMutableBufferPointer { op in
                    objective.corrupt(cp.baseAddress! + start * V, batch: b, gammas: [Double](repeating: gamma, count: b),
                                      sigmas: [Double](repeating: sg, count: b), rng: &rng, out: np.baseAddress! + start * V)
                    tv.withUnsafeBufferPointer { tp in
                        model.reconstruct(np.baseAddress! + start * V, t: tp.baseAddress!, batch: b, out: op.baseAddress! + start * V)
                    }
                } } }
                start += b
                progress.advance(b)
            }
            if cfg.target == .noise {
                // x = mean + gamma V_d^T z0 + sigma y  =>  x0_hat = mean + (x - mean - sigma y_hat) / gamma
                let gg = Float(max(gamma, 1e-3)), ss = Float(sg)
                for i in 0..<(n * T) { for j in 0..<D {
                    let k = i * D + j, m = objective.mean[j]
                    out[k] = m + (noisy[k] - m - ss * out[k]) / gg
                } }
            }
            let pn = PSNR.perImage(noisy, reference: clean, count: n).reduce(0, +) / Double(n)
            let pm = PSNR.perImage(out, reference: clean, count: n).reduce(0, +) / Double(n)
            var pp: Double? = nil
            if cfg.tokenizer == .pca, let pca {
                let r = pca.reconstruct(pca.project(out, count: n * T, d: cfg.latentDim), count: n * T, d: cfg.latentDim)
                pp = PSNR.perImage(r, reference: clean, count: n).reduce(0, +) / Double(n)
            }
            levelsOut.append(.init(t: t, sigma: sg, gamma: gamma, psnrNoisy: pn, psnrModel: pm, psnrModelProjected: pp))
            keptNoisy.append(Array(noisy[0..<(min(keep, n) * V)]))
            keptDenoised.append(Array(out[0..<(min(keep, n) * V)]))
        }
        progress.finish()
        return Output(result: .init(images: n, psnrPCACeiling: ceiling, levels: levelsOut, figure: nil),
                      noisy: keptNoisy, denoised: keptDenoised, pcaProjected: projected)
    }

    /// The figure: one row per image; columns clean, PCA-d projection (pca tokenizer), then noisy / denoised per level.
    public static func writeFigure(_ path: String, clean: [Float], output o: Output, geometry g: PatchGeometry) throws {
        let V = g.valuesPerImage, S = g.imageSize
        let rows = o.noisy.first.map { $0.count / V } ?? 0
        guard rows > 0 else { return }
        let cols = 1 + (o.pcaProjected == nil ? 0 : 1) + 2 * o.noisy.count
        var grid = ImageGrid(rows: rows, cols: cols, tileWidth: S, tileHeight: S,
                             scale: ImageGrid.upscale(tile: S, target: 64), padding: 2)
        func img(_ a: [Float], _ i: Int) -> [Float] { g.unpatchify(Array(a[(i * V)..<((i + 1) * V)])) }
        for i in 0..<rows {
            var c = 0
            grid.place(row: i, col: c, scaled: img(clean, i), width: S, height: S); c += 1
            if let p = o.pcaProjected { grid.place(row: i, col: c, scaled: img(p, i), width: S, height: S); c += 1 }
            for l in 0..<o.noisy.count {
                grid.place(row: i, col: c, scaled: img(o.noisy[l], i), width: S, height: S); c += 1
                grid.place(row: i, col: c, scaled: img(o.denoised[l], i), width: S, height: S); c += 1
            }
        }
        try grid.writePNG(path)
    }
}
