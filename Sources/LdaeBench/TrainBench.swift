import Foundation
import Ldae

/// `ldae-train bench`: first `ModelBenchmark` (the model helper's: sgemm reference, model forward+backward,
/// encoder features at batch 256), then full l-DAE training steps of the same reference (tiny) config on
/// synthetic data in memory (corrupt -> forward -> loss -> backward -> clip -> AdamW), so the training step and
/// the model alone are compared in one run. Prints medians and ends with one `key=value ...` line.
/// Speed is only ever measured here, never in tests.
public enum TrainBench {
    /// The plan's `timesPhases` is turned on for the training steps.
    public static func run(batch B: Int, steps: Int, warmup: Int, plan: ExecutionPlan, featureBatch: Int = 256) throws {
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
        var timed = plan
        timed.timesPhases = true
        let model = try LDAEModel(config: mc, seed: 0, plan: timed)
        let obj = try LDAEObjective(config: tc, pca: pca, geometry: g)
        let opt = AdamW(count: model.parameterCount,
                        segments: model.tensors.filter { $0.trainable }.map { .init(offset: $0.offset, count: $0.count, decay: $0.decay) },
                        beta1: tc.beta1, beta2: tc.beta2, weightDecay: tc.weightDecay)
        let stepper = TrainStep(model: model, objective: obj, schedule: NoiseSchedule(tc), optimizer: opt, config: tc)
        let flops = model.trainingFlops(batch: B)
        print(String(format: "bench: tiny config, %d parameters, batch %d, %.1f GFLOP per training step, %d worker threads, %d BLAS threads, %@ kernels, linear layers on the %@ GEMM (%@)",
                     model.parameterCount, B, flops / 1e9, plan.workers, BLAS.threads, plan.usesFastKernels ? "AVX2+FMA" : "portable",
                     plan.gemm.rawValue, plan.resolvedPrecision.rawValue))
        // 1. the model helper's benchmark (its key=value line is relabelled so that ours is the last line)
        let mr = try ModelBenchmark.run(config: mc, batch: B, steps: steps, featureBatch: featureBatch, plan: plan) { line in
            print(line.hasPrefix("step_ms=") ? "model benchmark: " + line : "model: " + line)
        }
        // 2. full training steps
        var stepMs: [Double] = []
        for s in 0..<(warmup + steps) {
            if s == warmup { stepper.resetPhaseSeconds() }
            let t0 = Date()
            _ = try x0.withUnsafeBufferPointer { try stepper.step(x0: $0.baseAddress!, step: s, lr: 1e-4) }
            let ms = Date().timeIntervalSince(t0) * 1000
            if s >= warmup { stepMs.append(ms) }
            print(String(format: "train: step %d: %.1f ms%@", s, ms, s < warmup ? " (warmup)" : ""))
        }
        do {
            let ph = stepper.phaseSeconds
            let order = ["corrupt", "forward", "loss", "backward", "clip", "adamw"]
            print("train: mean per step by phase: " + order.map { String(format: "%@ %.1f ms", $0, 1000 * (ph[$0] ?? 0) / Double(steps)) }.joined(separator: ", "))
        }
        let step = ModelBenchmark.median(stepMs)
        let ips = Double(B) / (step / 1000), fips = mr.featuresImagesPerS
        let gflops = flops / (step / 1000) / 1e9
        let rss = max(ModelBenchmark.peakRSSMB(), mr.peakRSSMB)
        print(String(format: "training step, batch %d (median of %d): %.1f ms = %.1f images/s, %.1f GFLOP/s (%.0f%% of sgemm 2048^3); model forward+backward alone %.1f ms, ratio step/model %.2f",
                     B, steps, step, ips, gflops, 100 * gflops / mr.sgemmGflops, mr.stepMs, step / mr.stepMs))
        print(String(format: "features, batch %d: %.1f ms = %.1f images/s", featureBatch, mr.featuresMs, fips))
        // A comparison with PyTorch is only meaningful in the same run: `tools/bench train --rounds R` alternates both.
        print(String(format: "step_ms=%.1f images_per_s=%.1f features_images_per_s=%.1f gflops=%.1f peak_rss_mb=%.0f model_step_ms=%.1f step_over_model=%.2f sgemm_gflops=%.1f precision=%@ gemm=%@",
                     step, ips, fips, gflops, rss, mr.stepMs, step / mr.stepMs, mr.sgemmGflops, plan.resolvedPrecision.rawValue, plan.gemm.rawValue))
    }
}
