import Foundation
import Ldae

/// Benchmark of the model library alone (no data, no objective): raw OpenBLAS sgemm GFLOP/s of this machine as the
/// reference, then the model's forward+backward step and encoder feature extraction, as medians, with ratios.
/// Speed is measured only here (through a CLI / tools/bench), never in unit tests.
public enum ModelBenchmark {
    public struct Result: Sendable {
        public var sgemmGflops: Double        // OpenBLAS sgemm, 2048^3, at the plan's threads
        public var sgemmLayerGflops: Double   // OpenBLAS sgemm on the reference fc1 shape [8192 x 192] x [192 x 768]
        public var stepMs: Double             // model forward + backward, median
        public var featuresMs: Double         // features() at featureBatch, median
        public var batch: Int
        public var featureBatch: Int
        public var stepGflops: Double
        public var peakRSSMB: Double
        public var imagesPerS: Double { Double(batch) / (stepMs / 1000) }
        public var featuresImagesPerS: Double { Double(featureBatch) / (featuresMs / 1000) }
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Peak resident set size in MB (VmHWM), 0 when unavailable.
    public static func peakRSSMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
        }
        return 0
    }

    /// CPU time of this process (all threads) in seconds.
    public static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Median GFLOP/s of C[m,n] = A[m,k] B[k,n] with OpenBLAS at `threads` threads (its own threading).
    public static func sgemmGflops(m: Int, n: Int, k: Int, threads: Int, reps: Int = 5) -> Double {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k), b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var rng = RNG(seed: 1)
        for i in 0..<(m * k) { a[i] = Float(rng.uniform()) }
        for i in 0..<(k * n) { b[i] = Float(rng.uniform()) }
        c.initialize(repeating: 0, count: m * n)
        let old = BLAS.threads
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(old) }
        var times: [Double] = []
        for r in 0..<(reps + 1) {
            let t0 = Date()
            BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: c, ldc: n)
            if r > 0 { times.append(Date().timeIntervalSince(t0)) }
        }
        return 2 * Double(m) * Double(n) * Double(k) / median(times) / 1e9
    }

    /// Runs the benchmark on `config` (default: the reference tiny config) and prints a report ending with one
    /// `key=value` line. Inputs are random (timing does not depend on values).
    @discardableResult
    public static func run(config: ModelConfig = ModelPreset.tiny.config, batch: Int = 128, steps: Int = 5,
                           featureBatch: Int = 256, plan: ExecutionPlan = .automatic,
                           log: (String) -> Void = { print($0) }) throws -> Result {
        let model = try LDAEModel(config: config, seed: 0, plan: plan)
        let threads = plan.workers
        let per = config.tokens * config.tokenDim
        var rng = RNG(seed: 2)
        let x = (0..<(max(batch, featureBatch) * per)).map { _ in Float(rng.normal()) }
        let t = (0..<batch).map { _ in Float(rng.uniform()) }
        let dout = (0..<(batch * per)).map { _ in Float(rng.normal()) * 1e-3 }
        let sq = sgemmGflops(m: 2048, n: 2048, k: 2048, threads: threads)
        let layer = sgemmGflops(m: batch * config.tokens, n: config.encoderWidth * config.mlpRatio, k: config.encoderWidth, threads: threads)
        log(String(format: "sgemm reference (OpenBLAS, %d threads): %.1f GFLOP/s at 2048^3, %.1f GFLOP/s at %dx%dx%d",
                   threads, sq, layer, batch * config.tokens, config.encoderWidth * config.mlpRatio, config.encoderWidth))
        // OpenBLAS's worker threads spin for a while after a threaded call; let them go idle before timing the model
        // (which runs OpenBLAS single-threaded and splits work itself), or they take a core from it.
        Thread.sleep(forTimeInterval: 0.5)
        let flops = model.trainingFlops(batch: batch)
        var stepTimes: [Double] = [], cpuTimes: [Double] = []
        for s in 0..<(steps + 1) {
            let t0 = Date(), c0 = cpuSeconds()
            model.zeroGrad()
            _ = model.forward(x, t: t, batch: batch)
            let tf = Date().timeIntervalSince(t0)
            model.backward(dout)
            let dt = Date().timeIntervalSince(t0), dc = cpuSeconds() - c0
            if s > 0 { stepTimes.append(dt); cpuTimes.append(dc) }
            log(String(format: "step %d: %.1f ms (forward %.1f ms), cpu %.1f ms%@", s, dt * 1000, tf * 1000, dc * 1000, s == 0 ? " (warmup)" : ""))
        }
        log(String(format: "cpu time per step (median): %.1f ms over %d threads; load average now %@", median(cpuTimes) * 1000,
                   threads, (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"))
        var feats = [Float](repeating: 0, count: featureBatch * config.encoderWidth)
        var featTimes: [Double] = []
        for s in 0..<(max(3, steps) + 1) {
            let t0 = Date()
            model.features(x, t: nil, batch: featureBatch, out: &feats)
            if s > 0 { featTimes.append(Date().timeIntervalSince(t0)) }
        }
        let stepMs = median(stepTimes) * 1000, featMs = median(featTimes) * 1000
        let r = Result(sgemmGflops: sq, sgemmLayerGflops: layer, stepMs: stepMs, featuresMs: featMs, batch: batch,
                       featureBatch: featureBatch, stepGflops: flops / (stepMs / 1000) / 1e9, peakRSSMB: peakRSSMB())
        log(String(format: "model forward+backward, batch %d (median of %d): %.1f ms, %.1f images/s, %.1f GFLOP/s = %.0f%% of sgemm 2048^3",
                   batch, steps, stepMs, r.imagesPerS, r.stepGflops, 100 * r.stepGflops / sq))
        log(String(format: "features, batch %d (median of %d): %.1f ms, %.1f images/s", featureBatch, featTimes.count, featMs, r.featuresImagesPerS))
        log(String(format: "step_ms=%.1f images_per_s=%.1f features_images_per_s=%.1f gflops=%.1f peak_rss_mb=%.0f sgemm_gflops=%.1f sgemm_ratio=%.2f",
                   stepMs, r.imagesPerS, r.featuresImagesPerS, r.stepGflops, r.peakRSSMB, sq, r.stepGflops / sq))
        return r
    }
}
