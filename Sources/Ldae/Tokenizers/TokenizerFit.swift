import Foundation

/// `ldae-fit-tokenizer`: fits a tokenizer of `settings.kind` on shards by Adam (linear warmup over 100 steps, then
/// the constant rate), batch s = the loader's step-s batch of the (seed, step) order without augmentation, the VAE's
/// posterior noise from RNG(seed, stream: step), so the fit is a function of (settings, shards) and `--resume`
/// reproduces the uninterrupted run bit for bit. Checkpoints (the tokenizer file with Adam's state, `complete` 0)
/// go to OUT.ckpt.h5 every `checkpointEvery` steps and on SIGINT/SIGTERM; the finished file is OUT.
public struct TokenizerFit {
    public struct Options {
        public var data: [String]
        public var out: String
        public var settings: TokenizerFitSettings
        public var resume = false
        public var quiet = false
        public var checkpointEvery = 500
        /// Images the end-of-fit statistics (latent variance, reconstruction MSE, latent scale) are taken over.
        public var statImages = 2000
        public var memoryBudget = 1 << 30
        /// Stop (with a checkpoint, like an interrupt) once this many steps are done: for tests and staged fits.
        public var stopAfter: Int? = nil
        public init(data: [String], out: String, settings: TokenizerFitSettings) { self.data = data; self.out = out; self.settings = settings }
    }

    public enum Stop: Equatable { case finished, signal(Int32), stopAfter }

    public static func checkpointPath(_ out: String) -> String { out + ".ckpt.h5" }
    static let noiseStream: UInt64 = 0x544F_4B4E_4F49_5345

    /// Fits (or resumes) and writes the file; returns how it stopped and the file (or the checkpoint when stopped).
    public static func run(_ o: Options) throws -> (stop: Stop, file: TokenizerFile) {
        let s = o.settings
        try s.validate()
        let shards = try ShardSet(o.data)
        let g = shards.geometry
        let def = try TokenizerRegistry.definition(s.kind)
        let model = try def.trainable(s, geometry: g)
        var cfg = TrainConfig(); cfg.batchSize = s.batchSize; cfg.seed = s.seed; cfg.flip = false
        let loader = try BatchLoader(shards: shards, config: cfg, memoryBudget: o.memoryBudget)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: s.batchSize * g.valuesPerImage)
        defer { x.deallocate() }
        let adam = AdamW(count: model.parameterCount,
                         segments: model.layout.filter(\.trainable).map { .init(offset: $0.offset, count: $0.count, decay: false) },
                         beta1: 0.9, beta2: 0.999, weightDecay: 0)
        var curve: [Float] = []
        var step = 0
        let ck = checkpointPath(o.out)
        if o.resume && FileUtil.exists(ck) {
            let c = try TokenizerFile.load(ck)
            guard c.settings == s else { throw LdaeError("cannot resume: the checkpoint was made with other settings (\(String(decoding: try JSON.encode(c.settings, pretty: false), as: UTF8.self)))", file: ck) }
            guard c.indexSHA256 == shards.indexSHA256 else { throw LdaeError("cannot resume: the checkpoint was made on other shards (index sha256)", file: ck) }
            guard let m = c.adamM, let v = c.adamV, m.count == model.parameterCount, v.count == model.parameterCount,
                  c.stepsDone >= 0, c.stepsDone <= s.steps, c.lossCurve.count == 3 * c.stepsDone else {
                throw LdaeError("corrupt tokenizer checkpoint (optimizer state or loss curve does not match the model)", file: ck)
            }
            try model.importTensors(c)
            adam.m = m; adam.v = v; adam.step = c.stepsDone
            step = c.stepsDone; curve = c.lossCurve
        } else {
            if !o.resume && FileUtil.exists(ck) {
                throw LdaeError("a checkpoint of an unfinished fit is there; pass --resume to continue it, or delete it", file: ck)
            }
            // the data-dependent start (patch mean, PCA init) from the first batch's images
            try loader.fill(step: 0, into: x)
            try model.prepare(x, batch: s.batchSize)
        }
        func snapshot(complete: Bool) -> TokenizerFile {
            var f = TokenizerFile(settings: s, geometry: g, indexSHA256: shards.indexSHA256, tensors: model.exportTensors())
            f.lossCurve = curve; f.stepsDone = step; f.complete = complete
            if !complete { f.adamM = adam.m; f.adamV = adam.v }
            return f
        }
        let progress = ProgressLine("fit-tokenizer", total: s.steps - step, unit: "steps")
        progress.quiet = o.quiet
        var stop = Stop.finished
        do {   // OpenBLAS at the caller's thread count (ldae-fit-tokenizer --threads)
            while step < s.steps {
                try loader.fill(step: step, into: x)
                var rng = RNG(seed: s.seed, stream: noiseStream &+ UInt64(step))
                let (mse, kl) = model.lossAndGradient(x, batch: s.batchSize, rng: &rng)
                guard mse.isFinite, kl.isFinite else {
                    throw LdaeError("non-finite loss at step \(step) (mse \(mse), kl \(kl)); lower --lr", file: FileUtil.exists(ck) ? ck : nil)
                }
                let lr = s.lr * min(1, Double(step + 1) / 100)
                adam.update(params: model.params, grads: model.grads, lr: lr, plan: ExecutionPlan(threads: 1))
                curve += [Float(step), Float(mse), Float(kl)]
                step += 1
                progress.advance(extra: String(format: "step %d/%d, mse %.5f, kl %.4f", step, s.steps, mse, kl))
                if TrainSignals.pending != 0 { stop = .signal(TrainSignals.pending); break }
                if let k = o.stopAfter, step >= k, step < s.steps { stop = .stopAfter; break }
                if o.checkpointEvery > 0 && step % o.checkpointEvery == 0 && step < s.steps { try snapshot(complete: false).save(ck) }
            }
        }
        if stop != .finished {
            let f = snapshot(complete: false)
            try f.save(ck)
            return (stop, f)
        }
        progress.finish()
        var f = snapshot(complete: true)
        try finishStatistics(&f, definition: def, shards: shards, loader: loader, images: o.statImages)
        try f.save(o.out)
        try? FileManager.default.removeItem(atPath: ck)
        return (.finished, f)
    }

    /// The latent's variance per component, the reconstruction MSE and (conv-vae) the latent scale, over up to
    /// `images` images spread over the set: scale^2 * sum_k var(z_k) = the summed variance of the reconstruction.
    static func finishStatistics(_ f: inout TokenizerFile, definition def: any TokenizerDefinition, shards: ShardSet,
                                 loader: BatchLoader, images: Int) throws {
        let g = shards.geometry, T = g.tokens, D = g.tokenDim, d = f.latentDim
        let n = max(1, min(images, shards.count))
        let codec = try def.model(f)
        var sumZ = [Double](repeating: 0, count: d), sqZ = sumZ
        var sumX = [Double](repeating: 0, count: D), sqX = sumX
        var err = 0.0, count = 0
        let chunk = 64
        var start = 0
        while start < n {
            let idx = (start..<min(n, start + chunk)).map { $0 * shards.count / n }
            var xs = [Float](repeating: 0, count: idx.count * T * D)
            for (i, gi) in idx.enumerated() {
                let (sh, row) = shards.locate(gi)
                let u8 = try shards.read(shard: sh, rows: row..<(row + 1)).patches
                for j in 0..<(T * D) { xs[i * T * D + j] = PixelScaling.table[Int(u8[j])] }
            }
            let b = idx.count
            var z = [Float](repeating: 0, count: b * T * d), xr = [Float](repeating: 0, count: b * T * D)
            xs.withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { zp in xr.withUnsafeMutableBufferPointer { rp in
                codec.roundTrip(xp.baseAddress!, images: b, tokens: T, dim: D, z: zp.baseAddress!, out: rp.baseAddress!)
            } } }
            for i in 0..<(b * T) {
                for k in 0..<d { let v = Double(z[i * d + k]); sumZ[k] += v; sqZ[k] += v * v }
                for j in 0..<D { let v = Double(xr[i * D + j]); sumX[j] += v; sqX[j] += v * v; let e = v - Double(xs[i * D + j]); err += e * e }
            }
            count += b * T
            start += chunk
        }
        let N = Double(count)
        let varZ = (0..<d).map { max(0, sqZ[$0] / N - (sumZ[$0] / N) * (sumZ[$0] / N)) }
        let varX = (0..<D).reduce(0.0) { $0 + max(0, sqX[$1] / N - (sumX[$1] / N) * (sumX[$1] / N)) }
        var scale = 1.0
        if def.scalesLatent {
            let total = varZ.reduce(0, +)
            guard total > 0 else { throw LdaeError("the fitted latent has zero variance over \(n) images: the tokenizer collapsed (lower --kl-weight)") }
            scale = (varX / total).squareRoot()
        }
        f.latentScale = scale
        f.latentVariance = varZ.map { Float($0 * scale * scale) }
        f.reconMSE = err / (N * Double(D))
    }
}
