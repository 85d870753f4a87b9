import Foundation

extension ModelBenchmark {
    /// Per-kernel timings at the reference shapes (tiny config, batch B): each kernel's median ms and GFLOP/s next
    /// to OpenBLAS's own 2-thread sgemm on the same shape, to see where a step's time goes.
    public static func kernels(batch: Int = 128, reps: Int = 5, log: (String) -> Void = { print($0) }) {
        let T = 64, W = 192, H = 3, n = batch * T
        func buf(_ k: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: k)
            var rng = RNG(seed: UInt64(k))
            for i in 0..<k { p[i] = Float(rng.uniform() - 0.5) }
            return p
        }
        func time(_ body: () -> Void) -> Double {
            var ts: [Double] = []
            for r in 0..<(reps + 1) {
                let t0 = Date(); body()
                if r > 0 { ts.append(Date().timeIntervalSince(t0) * 1000) }
            }
            return median(ts)
        }
        let x = buf(n * 4 * W), y = buf(n * 4 * W), z = buf(n * 4 * W), w = buf(4 * W * W), g = buf(4 * W * W)
        let m = buf(n), s = buf(n), att = buf(batch * H * T * T)
        // Every kernel twice in the same run: ldae's AVX2 C kernels ("fast") and the portable path (OpenBLAS sgemm,
        // Swift SIMD), so the ratio is measured under the same load.
        let paths: [(String, Bool)] = FastKernels.available ? [("fast", true), ("portable", false)] : [("portable", false)]
        let saved = FastKernels.enabled
        defer { FastKernels.enabled = saved }
        for (c, oc) in [(W, 3 * W), (W, W), (W, 4 * W), (4 * W, W)] {
            let fl = 2.0 * Double(n * c * oc)
            for (name, on) in paths {
                FastKernels.enabled = on
                let f = Parallel.withSingleThreadedBLAS { time { Linear.forward(out: y, inp: x, weight: w, bias: g, n: n, c: c, oc: oc) } }
                let bwd = Parallel.withSingleThreadedBLAS {
                    time { Linear.backward(dinp: z, dweight: g, dbias: m, dout: y, inp: x, weight: w, n: n, c: c, oc: oc, overwriteDinp: true) }
                }
                log(String(format: "linear %4d->%4d %-8@: forward %6.1f ms (%5.1f GFLOP/s), backward %6.1f ms (%5.1f GFLOP/s)",
                           c, oc, name, f, fl / f / 1e6, bwd, 2 * fl / bwd / 1e6))
            }
            let old = BLAS.threads
            BLAS.setThreads(2)
            let ref = time { BLAS.sgemm(transA: false, transB: true, m: n, n: oc, k: c, alpha: 1, a: x, lda: c, b: w, ldb: c, beta: 0, c: y, ldc: oc) }
            BLAS.setThreads(old)
            log(String(format: "linear %4d->%4d: openblas's own 2-thread sgemm, forward %6.1f ms (%5.1f GFLOP/s)", c, oc, ref, fl / ref / 1e6))
        }
        Parallel.withSingleThreadedBLAS {
            let afl = 4.0 * Double(batch * T * T * W)
            for (name, on) in paths {
                FastKernels.enabled = on
                let af = time { Attention.forward(out: y, att: att, qkv: x, b: batch, t: T, c: W, heads: H) }
                let ab = time { Attention.backward(dqkv: z, dout: y, qkv: x, att: att, b: batch, t: T, c: W, heads: H, overwrite: true) }
                log(String(format: "attention %-8@: forward %6.1f ms (%5.1f GFLOP/s), backward %6.1f ms (%5.1f GFLOP/s)", name, af, afl / af / 1e6, ab, 2 * afl / ab / 1e6))
                let gf = time { GELU.forward(out: y, inp: x, n: n * 4 * W) }
                let gb = time { GELU.backwardInPlace(y, inp: x, n: n * 4 * W) }
                log(String(format: "gelu [%d x %d] %-8@: forward %6.1f ms, backward %6.1f ms", n, 4 * W, name, gf, gb))
            }
            let lf = time { LayerNorm.forward(out: y, mean: m, rstd: s, inp: x, weight: w, bias: g, n: n, c: W) }
            let lb = time { LayerNorm.backward(dinp: z, dweight: g, dbias: w, dout: y, inp: x, weight: w, mean: m, rstd: s, n: n, c: W) }
            let la = time { LayerNorm.apply(out: y, inp: x, mean: m, rstd: s, weight: w, bias: g, n: n, c: W) }
            log(String(format: "layernorm [%d x %d]: forward %6.1f ms, apply %6.1f ms, backward %6.1f ms", n, W, lf, la, lb))
            let cp = time { y.update(from: x, count: n * W) }
            log(String(format: "copy [%d x %d]: %6.1f ms", n, W, cp))
        }
        for p in [x, y, z, w, g, m, s, att] { p.deallocate() }
    }
}
