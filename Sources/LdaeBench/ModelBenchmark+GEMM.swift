import Foundation
import Ldae

extension ModelBenchmark {
    /// The linear layers' three products at the tiny config's shapes, as the chunked model runs them (one chunk of
    /// 1024 rows on one core; weights prepacked once per pass), on every GEMM this CPU runs (`GEMMKernel`): OpenBLAS
    /// ("portable"), ldae's AVX2, AVX-512 fp32 and AVX512-BF16 kernels, alternating rep by rep so that all see the same
    /// load. Prints single-thread GFLOP/s per kernel and product, and the sums over the four shapes.
    public static func gemmKernels(reps: Int = 7, log: (String) -> Void = { print($0) }) {
        let rows = 1024, W = 192
        let kernels = GEMMKernel.allCases.filter(\.available)
        func buf(_ k: Int, _ seed: UInt64) -> UnsafeMutablePointer<Float> {
            let p = LDAEModel.allocateAligned(k)
            var rng = RNG(seed: seed)
            for i in 0..<k { p[i] = Float(rng.uniform() - 0.5) }
            return p
        }
        let x = buf(rows * 4 * W, 1), dout = buf(rows * 4 * W, 2), out = buf(rows * 4 * W, 3), w = buf(16 * W * W, 4)
        let dw = buf(16 * W * W, 5), bias = buf(4 * W, 6), sums = buf(4 * W, 7)
        defer { for p in [x, dout, out, w, dw, bias, sums] { LDAEModel.deallocateAligned(p) } }
        log("gemm kernels: one chunk of \(rows) rows on one thread, median of \(reps), kernels alternating: "
            + kernels.map(\.rawValue).joined(separator: ", ") + " (portable = OpenBLAS)")
        var totals = [[Double]](repeating: [0, 0, 0], count: kernels.count)
        BLAS.withOneThread {
            for (c, oc) in [(W, 3 * W), (W, W), (W, 4 * W), (4 * W, W)] {
                // each kernel's packed weight for the forward (op(B) = weight^T) and the input gradient (op(B) = weight)
                let packs: [(fwd: UnsafeMutablePointer<Float>?, bwd: UnsafeMutablePointer<Float>?)] = kernels.map { g in
                    guard g.packs else { return (nil, nil) }
                    let f = LDAEModel.allocateAligned(g.packedBSize(k: c, n: oc)), b = LDAEModel.allocateAligned(g.packedBSize(k: oc, n: c))
                    g.packB(transB: true, k: c, n: oc, b: w, ldb: c, into: f)
                    g.packB(transB: false, k: oc, n: c, b: w, ldb: c, into: b)
                    return (f, b)
                }
                defer { for p in packs { LDAEModel.deallocateAligned(p.fwd); LDAEModel.deallocateAligned(p.bwd) } }
                let flops = 2.0 * Double(rows * c * oc)
                var ms = [[Double]](repeating: [], count: kernels.count * 3)
                for r in 0..<(reps + 1) {
                    for (i, g) in kernels.enumerated() {
                        let t0 = Date()
                        g.gemm(transA: false, transB: true, m: rows, n: oc, k: c, alpha: 1, a: x, lda: c, b: w, ldb: c, beta: 0,
                               c: out, ldc: oc, bias: bias, packedB: packs[i].fwd.map { UnsafePointer($0) })
                        let t1 = Date()
                        g.gemm(transA: false, transB: false, m: rows, n: c, k: oc, alpha: 1, a: dout, lda: oc, b: w, ldb: c, beta: 0,
                               c: out, ldc: c, colsumA: sums, packedB: packs[i].bwd.map { UnsafePointer($0) })
                        let t2 = Date()
                        g.gemm(transA: true, transB: false, m: oc, n: c, k: rows, alpha: 1, a: dout, lda: oc, b: x, ldb: c, beta: 1,
                               c: dw, ldc: c)
                        let t3 = Date()
                        if r > 0 {
                            ms[3 * i].append(t1.timeIntervalSince(t0) * 1000)
                            ms[3 * i + 1].append(t2.timeIntervalSince(t1) * 1000)
                            ms[3 * i + 2].append(t3.timeIntervalSince(t2) * 1000)
                        }
                    }
                }
                let med = ms.map(median)
                for i in kernels.indices { for j in 0..<3 { totals[i][j] += med[3 * i + j] } }
                func line(_ j: Int) -> String {
                    kernels.indices.map { String(format: "%@ %5.1f", kernels[$0].rawValue, flops / med[3 * $0 + j] / 1e6) }.joined(separator: ", ")
                }
                log(String(format: "linear %4d->%4d: forward %@ | input gradient %@ | weight gradient %@ GFLOP/s", c, oc, line(0), line(1), line(2)))
            }
        }
        // attention's products on each GEMM (the direct AVX2 tiles; the AVX-512 fp32 and bf16 GEMMs), one chunk of
        // 16 images of the encoder's and the decoder's shapes, forward + backward
        let codes: [(String, Int32)] = [("avx2 tiles", 0)] + (GEMMKernel.avx512.available ? [("avx512", 1)] : [])
            + (GEMMKernel.bf16.available ? [("bf16", 2)] : [])
        if FastKernels.available {
            for (c, heads) in [(W, 3), (128, 4)] {
                let b = 16, t = 64, qkv = buf(b * t * 3 * c, 8), dq = buf(b * t * 3 * c, 9), att = buf(b * heads * t * t, 10)
                defer { for p in [qkv, dq, att] { LDAEModel.deallocateAligned(p) } }
                var ms = [[Double]](repeating: [], count: codes.count)
                for r in 0..<(reps + 1) {
                    for (i, code) in codes.enumerated() {
                        let t0 = Date()
                        FastKernels.attentionForward(gemm: code.1, out: out, att: att, qkv: qkv, b: b, t: t, c: c, heads: heads, p0: 0, p1: b * heads)
                        FastKernels.attentionBackward(gemm: code.1, dqkv: dq, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c,
                                                      heads: heads, p0: 0, p1: b * heads, overwrite: true)
                        if r > 0 { ms[i].append(Date().timeIntervalSince(t0) * 1000) }
                    }
                }
                log(String(format: "attention width %d, %d heads, %d images, forward + backward: ", c, heads, b)
                    + codes.indices.map { String(format: "%@ %.3f ms", codes[$0].0, median(ms[$0])) }.joined(separator: ", "))
            }
        }
        let names = ["forward", "input gradient", "weight gradient"]
        for j in 0..<3 {
            log("sum over the 4 shapes, \(names[j]): " + kernels.indices.map { String(format: "%@ %.2f ms", kernels[$0].rawValue, totals[$0][j]) }
                .joined(separator: ", "))
        }
    }
}
