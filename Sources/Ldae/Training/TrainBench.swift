import Foundation

/// `ldae-train bench`: full l-DAE training steps of the reference (tiny) config on synthetic data in memory
/// (corrupt -> forward -> loss -> backward -> clip -> AdamW), and encoder feature extraction at batch 256.
/// Prints medians and ends with one `key=value ...` line. Speed is only ever measured here, never in tests.
public enum TrainBench {
    /// Peak resident set size in MB (VmHWM from /proc/self/status), or 0 when unavailable.
    public static func peakRSSMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public static func run(batch B: Int, steps: Int, warmup: Int, threads: Int, featureBatch: Int = 256) throws {
        if threads > 0 { setenv("LDAE_THREADS", String(threads), 1); BLAS.setThreads(threads) }
        guard B >= 1, steps >= 1 else { throw UsageError("--batch and --steps must be >= 1") }
        let mc = ModelPreset.tiny.config
        var tc = TrainConfig(); tc.batchSize = B
        let g = mc.geometry, D = g.tokenDim
        // synthetic smooth images and a PCA basis of their patches (the timing does not depend on the values)
        var rng = RNG(seed: 1)
        var x0 = [Float](repeating: 0, count: B * g.valuesPerImage)
        for b in 0..<B {
            let a = rng.uniform() * 2 - 1, cx = rng.uniform() - 0.5, cy = rng.uniform() - 0.5
            for y in 0..<g.imageSize { for x in 0..<g.imageSize { for c in 0..<3 {
                let v = a + cx * Double(x) / 16 + cy * Double(y) / 16 + 0.1 * rng.normal() + 0.1 * Double(c)
                x0[b * g.valuesPerImage + g.patchOffset(y: y, x: x, c: c)] = Float(max(-1, min(1, v)))
            } } }
        }
        var cov = [Double](repeating: 0, count: D * D)
        let rows = B * g.tokens
        for r in 0..<rows { for i in 0..<D { let xi = Double(x0[r * D + i]); for j in i..<D { cov[i * D + j] += xi * Double(x0[r * D + j]) } } }
        for i in 0..<D { for j in i..<D { cov[j * D + i] = cov[i * D + j] } }
        let (vals, vecs) = try LAPACK.symmetricEigen(cov, n: D)
        var comps = [Float](repeating: 0, count: D * D)
        for r in 0..<D { for j in 0..<D { comps[r * D + j] = Float(vecs[(D - 1 - r) * D + j]) } }
        let pca = PCABasis(mean: [Float](repeating: 0, count: D), components: comps, eigenvalues: vals.reversed().map { Float($0) },
                           patchSize: g.patchSize, channels: 3, sampleCount: rows, indexSHA256: "")
        let model = try LDAEModel(config: mc, seed: 0)
        let obj = try LDAEObjective(config: tc, pca: pca, geometry: g)
        let opt = AdamW(count: model.parameterCount,
                        segments: model.tensors.filter { $0.trainable }.map { .init(offset: $0.offset, count: $0.count, decay: $0.decay) },
                        beta1: tc.beta1, beta2: tc.beta2, weightDecay: tc.weightDecay)
        let stepper = TrainStep(model: model, objective: obj, schedule: NoiseSchedule(tc), optimizer: opt, config: tc)
        let flops = model.trainingFlops(batch: B)
        eprint(String(format: "bench: tiny config, %d parameters, batch %d, %.1f GFLOP per training step, %d worker threads, %d BLAS threads",
                      model.parameterCount, B, flops / 1e9, Parallel.workers, BLAS.threads))
        var stepMs: [Double] = [], modelMs: [Double] = []
        for s in 0..<(warmup + steps) {
            let t0 = Date()
            _ = try x0.withUnsafeBufferPointer { try stepper.step(x0: $0.baseAddress!, step: s, lr: 1e-4) }
            let ms = Date().timeIntervalSince(t0) * 1000
            // model alone (forward + backward) on the encoder input of that step, for the overhead ratio
            let t1 = Date()
            model.zeroGrad()
            _ = model.forward(stepper.x, t: stepper.tFrac, batch: B)
            model.backward(stepper.dOut)
            let mms = Date().timeIntervalSince(t1) * 1000
            if s >= warmup { stepMs.append(ms); modelMs.append(mms) }
            eprint(String(format: "bench: step %d: %.1f ms (model forward+backward %.1f ms)%@", s, ms, mms, s < warmup ? " (warmup)" : ""))
        }
        // encoder features at featureBatch
        let FB = featureBatch
        var fx = [Float](repeating: 0, count: FB * g.valuesPerImage)
        for i in 0..<fx.count { fx[i] = x0[i % x0.count] }
        var feats = [Float](repeating: 0, count: FB * mc.encoderWidth)
        var featMs: [Double] = []
        for r in 0..<(1 + max(3, steps / 2)) {
            let t0 = Date()
            model.features(fx, t: nil, batch: FB, out: &feats)
            let ms = Date().timeIntervalSince(t0) * 1000
            if r > 0 { featMs.append(ms) }
        }
        let step = median(stepMs), mdl = median(modelMs), feat = median(featMs)
        let ips = Double(B) / (step / 1000), fips = Double(FB) / (feat / 1000)
        let gflops = flops / (step / 1000) / 1e9
        let rss = peakRSSMB()
        // PyTorch 2.13 eager CPU reference from issue 4 (same config, 2 threads): 2636 ms/step, 139.5 features images/s.
        print(String(format: "training step (median of %d): %.1f ms = %.1f images/s, %.1f GFLOP/s; model forward+backward alone %.1f ms (%.0f%% of the step)",
                     steps, step, ips, gflops, mdl, 100 * mdl / step))
        print(String(format: "features (batch %d, median of %d): %.1f ms = %.1f images/s", FB, featMs.count, feat, fips))
        print(String(format: "vs PyTorch reference figures quoted in issue 4 (2636 ms/step, 139.5 feature images/s): %.2fx step, %.2fx features", 2636 / step, fips / 139.5))
        print(String(format: "step_ms=%.1f images_per_s=%.1f features_images_per_s=%.1f gflops=%.1f peak_rss_mb=%.0f model_ms=%.1f speedup_step=%.2f speedup_features=%.2f",
                     step, ips, fips, gflops, rss, mdl, 2636 / step, fips / 139.5))
    }
}
