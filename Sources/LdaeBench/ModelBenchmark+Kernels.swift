import Foundation
import Ldae

extension ModelBenchmark {
    /// Per-kernel timings at the reference shapes (tiny config, batch B), to see where a step's time goes.
    /// Each kernel runs on both paths, ldae's C kernels ("fast": the plan's GEMM for the linears, AVX2 for the rest)
    /// and the portable one (OpenBLAS sgemm, Swift SIMD), alternating rep by rep so that both see the same load; prints
    /// each path's median and the ratio. First the linear layers' products on every GEMM kernel (`gemmKernels`).
    public static func kernels(batch: Int = 128, reps: Int = 5, plan: ExecutionPlan = .automatic, log: (String) -> Void = { print($0) }) {
        let T = 64, W = 192, H = 3, n = batch * T
        let reps = max(reps, 7)
        func buf(_ k: Int) -> UnsafeMutablePointer<Float> {
            let p = LDAEModel.allocateAligned(k)   // as the model's buffers
            var rng = RNG(seed: UInt64(k))
            for i in 0..<k { p[i] = Float(rng.uniform() - 0.5) }
            return p
        }
        var fastPlan = plan, portablePlan = plan
        fastPlan.fastKernels = true
        portablePlan.fastKernels = false
        let paths = FastKernels.available ? [fastPlan, portablePlan] : [portablePlan]
        /// Median ms of body(0), ..., body(count - 1), alternating them within every rep after one warm-up rep.
        func alternate(_ count: Int, _ body: (Int) -> Void) -> [Double] {
            var ts = [[Double]](repeating: [], count: count)
            for r in 0..<(reps + 1) {
                for i in 0..<count {
                    let t0 = Date(); body(i)
                    if r > 0 { ts[i].append(Date().timeIntervalSince(t0) * 1000) }
                }
            }
            return ts.map(median)
        }
        /// Median ms of body(plan) on each path (fast first).
        func time(_ body: (ExecutionPlan) -> Void) -> [Double] {
            alternate(paths.count) { i in body(paths[i]) }
        }
        func report(_ name: String, _ ms: [Double], flops: Double = 0) {
            func one(_ t: Double) -> String {
                flops > 0 ? String(format: "%6.1f ms (%5.1f GFLOP/s)", t, flops / t / 1e6) : String(format: "%6.1f ms", t)
            }
            if ms.count == 2 {
                log("\(name): fast \(one(ms[0])), portable \(one(ms[1])), portable/fast \(String(format: "%.2f", ms[1] / ms[0]))x")
            } else {
                log("\(name): portable \(one(ms[0])) (no AVX2+FMA on this CPU)")
            }
        }
        gemmKernels(reps: reps, log: log)
        log("kernels: tiny-config shapes, batch \(batch), \(plan.workers) worker threads, median of \(reps), paths alternating; fast linears on the \(fastPlan.gemm.rawValue) GEMM")
        let x = buf(n * 4 * W), y = buf(n * 4 * W), z = buf(n * 4 * W), w = buf(4 * W * W), g = buf(4 * W * W)
        let m = buf(n), s = buf(n), att = buf(batch * H * T * T)
        BLAS.withOneThread {
            for (c, oc) in [(W, 3 * W), (W, W), (W, 4 * W), (4 * W, W)] {
                let fl = 2.0 * Double(n * c * oc)
                let label = String(format: "linear %4d->%4d", c, oc)
                report(label + " forward", time { Linear.forward(out: y, inp: x, weight: w, bias: g, n: n, c: c, oc: oc, plan: $0) }, flops: fl)
                report(label + " backward", time {
                    Linear.backward(dinp: z, dweight: g, dbias: m, dout: y, inp: x, weight: w, n: n, c: c, oc: oc, overwriteDinp: true,
                                    plan: $0)
                }, flops: 2 * fl)
            }
            if FastKernels.available {
                // fc1 then GELU as two passes, against GELU written from the GEMM's registers (both fast paths)
                let ms = alternate(2) { i in
                    if i == 0 {
                        Linear.forward(out: y, inp: x, weight: w, bias: g, n: n, c: W, oc: 4 * W, plan: fastPlan)
                        GELU.forward(out: z, inp: y, n: n * 4 * W, plan: fastPlan)
                    } else {
                        Linear.forward(out: y, inp: x, weight: w, bias: g, n: n, c: W, oc: 4 * W, geluOut: z, plan: fastPlan)
                    }
                }
                log(String(format: "fc1 %d->%d + gelu: two passes %6.1f ms, fused epilogue %6.1f ms, ratio %.2fx", W, 4 * W,
                           ms[0], ms[1], ms[0] / ms[1]))
            }
            if FastKernels.available {
                // The backward's input-gradient products as the model runs them (chunks of 1024 rows, one per core at
                // a time): fc1's, dinp [1024, W] = dout [1024, 4W] @ weight [4W, W] with the bias gradient's column
                // sums, packing the weight in every chunk against the copy packed once per backward.
                let rows = 1024, chunks = max(1, n / rows)
                let gemm = fastPlan.gemm
                let pb = LDAEModel.allocateAligned(gemm.packedBSize(k: 4 * W, n: W))
                gemm.packB(transB: false, k: 4 * W, n: W, b: w, ldb: W, into: pb)
                let sums = buf(plan.workers * 4 * W)
                let ms = alternate(2) { i in
                    plan.dynamic(chunks) { core, c in
                        gemm.gemm(transA: false, transB: false, m: rows, n: W, k: 4 * W, alpha: 1,
                                  a: y + c * rows * 4 * W, lda: 4 * W, b: w, ldb: W, beta: 0,
                                  c: z + c * rows * W, ldc: W, colsumA: sums + core * 4 * W,
                                  packedB: i == 0 ? nil : UnsafePointer(pb))
                    }
                }
                log(String(format: "fc1 input gradient, %d chunks of %d rows: weight packed per chunk %6.1f ms, packed once %6.1f ms, ratio %.2fx",
                           chunks, rows, ms[0], ms[1], ms[0] / ms[1]))
                LDAEModel.deallocateAligned(pb); LDAEModel.deallocateAligned(sums)
            }
            let afl = 4.0 * Double(batch * T * T * W)
            report("attention forward", time { Attention.forward(out: y, att: att, qkv: x, b: batch, t: T, c: W, heads: H, plan: $0) }, flops: afl)
            report("attention backward", time {
                Attention.backward(dqkv: z, dout: y, qkv: x, att: att, b: batch, t: T, c: W, heads: H, overwrite: true, plan: $0)
            }, flops: 2 * afl)
            report("gelu [\(n) x \(4 * W)] forward", time { GELU.forward(out: y, inp: x, n: n * 4 * W, plan: $0) })
            report("gelu [\(n) x \(4 * W)] backward", time { GELU.backwardInPlace(y, inp: x, n: n * 4 * W, plan: $0) })
            // LayerNorm has one path (Swift SIMD)
            let ln = alternate(2) { i in
                if i == 0 { LayerNorm.forward(out: y, mean: m, rstd: s, inp: x, weight: w, bias: g, n: n, c: W, plan: plan) } else {
                    LayerNorm.backward(dinp: z, dweight: g, dbias: w, dout: y, inp: x, weight: w, mean: m, rstd: s, n: n, c: W,
                                       plan: plan)
                }
            }
            log(String(format: "layernorm [%d x %d] (one path): forward %6.1f ms, backward %6.1f ms", n, W, ln[0], ln[1]))
        }
        // Encoder features: chunks of 1024 tokens, one per core at a time, against the whole batch layer by layer (same
        // results); the models share their weights and differ only in their plans
        var chunked = plan, layerByLayer = plan, equalChunks = plan
        chunked.chunkTokens = 1024; chunked.minChunkTokens = 256; chunked.backwardTailChunks = 4
        layerByLayer.chunkTokens = 0
        equalChunks.chunkTokens = 1024; equalChunks.minChunkTokens = 1024; equalChunks.backwardTailChunks = 0
        if let base = try? LDAEModel(config: ModelPreset.tiny.config, seed: 0, plan: chunked),
           let whole = try? LDAEModel(copying: base, plan: layerByLayer),
           let equal = try? LDAEModel(copying: base, plan: equalChunks) {
            let fb = 2 * batch, D = base.config.tokenDim
            let xin = buf(fb * T * D), feats = buf(fb * W)
            let ms = alternate(2) { i in (i == 0 ? base : whole).features(xin, t: nil, batch: fb, out: feats) }
            log(String(format: "features, batch %d: chunks of 1024 tokens, one per core at a time %6.1f ms, whole batch layer by layer %6.1f ms, ratio %.2fx",
                       fb, ms[0], ms[1], ms[1] / ms[0]))
            // the training forward (saving activations) and backward the same two ways
            let tin = buf(batch * T * D), tt = buf(batch), dout = buf(batch * T * D)
            // forward and backward timed separately, the two models alternating rep by rep: [fwd 0, fwd 1, bwd 0, bwd 1]
            func passes(_ models: [LDAEModel]) -> [Double] {
                var t = [[Double]](repeating: [], count: 4)
                for r in 0..<(reps + 1) {
                    for (i, model) in models.enumerated() {
                        let t0 = Date()
                        _ = model.forward(tin, t: tt, batch: batch)
                        let t1 = Date()
                        model.backward(dout)
                        if r > 0 {
                            t[i].append(t1.timeIntervalSince(t0) * 1000); t[2 + i].append(Date().timeIntervalSince(t1) * 1000)
                        }
                    }
                }
                return t.map(median)
            }
            let m = passes([base, whole])
            log(String(format: "training forward, batch %d: chunks of 1024 tokens %6.1f ms, whole batch layer by layer %6.1f ms, ratio %.2fx",
                       batch, m[0], m[1], m[1] / m[0]))
            log(String(format: "training backward, batch %d: chunks of 1024 tokens %6.1f ms, whole batch layer by layer %6.1f ms, ratio %.2fx",
                       batch, m[2], m[3], m[3] / m[2]))
            // the balance at the end of each pass: the forward's last chunks smaller (down to 256 tokens) against equal
            // chunks; the backward's tail of small chunks handed out as cores free up against fixed shares only
            let bm = passes([base, equal])
            log(String(format: "training forward, batch %d: last chunks smaller %6.1f ms, equal chunks %6.1f ms, ratio %.2fx",
                       batch, bm[0], bm[1], bm[1] / bm[0]))
            log(String(format: "training backward, batch %d: shares then a tail of 4 small chunks %6.1f ms, fixed shares only %6.1f ms, ratio %.2fx",
                       batch, bm[2], bm[3], bm[3] / bm[2]))
            for p in [tin, tt, dout, xin, feats] { LDAEModel.deallocateAligned(p) }
        }
        // OpenBLAS's own threading on the largest forward shape, for reference
        let old = BLAS.threads
        BLAS.setThreads(plan.workers)
        let t = alternate(1) { _ in
            BLAS.sgemm(transA: false, transB: true, m: n, n: 4 * W, k: W, alpha: 1, a: x, lda: W, b: w, ldb: W, beta: 0, c: y, ldc: 4 * W)
        }[0]
        BLAS.setThreads(old)
        log(String(format: "openblas's own %d-thread sgemm [%d x %d] x [%d x %d]^T: %6.1f ms (%5.1f GFLOP/s)", plan.workers,
                   n, W, 4 * W, W, t, 2.0 * Double(n * W * 4 * W) / t / 1e6))
        for p in [x, y, z, w, g, m, s, att] { LDAEModel.deallocateAligned(p) }
    }
}
