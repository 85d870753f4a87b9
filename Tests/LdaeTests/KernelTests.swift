import Foundation
import XCTest
@testable import Ldae

/// Each kernel against its naive reference, and its backward against finite differences.
final class KernelTests: XCTestCase {
    func testVectorExpAndErfMatchLibm() {
        var worstExp: Float = 0, worstErf: Float = 0
        var x: Float = -20
        while x <= 20 {
            let e = VMath.exp(x), r = Float(Foundation.exp(Double(x)))
            worstExp = max(worstExp, abs(e - r) / r)
            worstErf = max(worstErf, abs(VMath.erf(x) - Float(Foundation.erf(Double(x)))))
            x += 0.013
        }
        XCTAssertLessThan(worstExp, 4e-7)
        XCTAssertLessThan(worstErf, 4e-7)
        XCTAssertEqual(VMath.exp(-200), 0, accuracy: 1e-30)  // clamped, finite
        XCTAssertEqual(VMath.erf(100), 1)
        XCTAssertEqual(VMath.erf(-100), -1)
    }

    func testLinearMatchesNaiveAndGradients() {
        var rng = RNG(seed: 1)
        let n = 37, c = 13, oc = 11
        var x = FD.randn(n * c, &rng), w = FD.randn(oc * c, &rng, scale: 0.5), b = FD.randn(oc, &rng)
        var fast = [Float](repeating: 0, count: n * oc), naive = fast
        Linear.forward(out: &fast, inp: x, weight: w, bias: b, n: n, c: c, oc: oc, plan: .automatic)
        Linear.forwardNaive(out: &naive, inp: x, weight: w, bias: b, n: n, c: c, oc: oc)
        XCTAssertLessThan(FD.maxAbsDiff(fast, naive), 1e-4)
        // accumulate mode adds
        var acc = naive
        Linear.forward(out: &acc, inp: x, weight: w, bias: b, n: n, c: c, oc: oc, accumulate: true, plan: .automatic)
        XCTAssertLessThan(FD.maxAbsDiff(acc, naive.map { 2 * $0 }), 2e-4)

        let dout = FD.randn(n * oc, &rng)
        var dx = [Float](repeating: 0.5, count: n * c), dw = [Float](repeating: 0.25, count: oc * c), db = [Float](repeating: 1, count: oc)
        var dxN = dx, dwN = dw, dbN = db
        Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, plan: .automatic)
        Linear.backwardNaive(dinp: &dxN, dweight: &dwN, dbias: &dbN, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc)
        XCTAssertLessThan(FD.maxAbsDiff(dx, dxN), 1e-4)
        XCTAssertLessThan(FD.maxAbsDiff(dw, dwN), 1e-4)
        XCTAssertLessThan(FD.maxAbsDiff(db, dbN), 1e-4)

        // finite differences (gradients start from zero)
        var gx = [Float](repeating: 0, count: n * c), gw = [Float](repeating: 0, count: oc * c), gb = [Float](repeating: 0, count: oc)
        Linear.backward(dinp: &gx, dweight: &gw, dbias: &gb, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, plan: .automatic)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var o = [Float](repeating: 0, count: n * oc)
            Linear.forwardNaive(out: &o, inp: x, weight: w, bias: b, n: n, c: c, oc: oc)
            return FD.weighted(o, dout)
        }
        let ix = FD.sampleIndices(n * c, 40, &rng), iw = FD.sampleIndices(oc * c, 40, &rng)
        let (w0, b0, x0) = (w, b, x)
        FD.assertClose("linear dx", numeric: FD.numeric(&x, indices: ix, eps: 1e-2) { loss($0, w0, b0) }, analytic: ix.map { Double(gx[$0]) })
        FD.assertClose("linear dw", numeric: FD.numeric(&w, indices: iw, eps: 1e-2) { loss(x0, $0, b0) }, analytic: iw.map { Double(gw[$0]) })
        FD.assertClose("linear db", numeric: FD.numeric(&b, indices: Array(0..<oc), eps: 1e-2) { loss(x0, w0, $0) }, analytic: gb.map(Double.init))
        // overwrite mode ignores what was in dinp
        var gx2 = [Float](repeating: 7, count: n * c), gw2 = [Float](repeating: 0, count: oc * c)
        Linear.backward(dinp: &gx2, dweight: &gw2, dbias: nil, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, overwriteDinp: true, plan: .automatic)
        XCTAssertLessThan(FD.maxAbsDiff(gx2, gx), 1e-5)
    }

    /// Sizes large enough that the kernels split work across cores (and run concurrent single-threaded sgemms).
    func testDynamicHandsOutEveryItemOnce() {
        for count in [0, 1, 3, 50] {
            let lock = NSLock()
            nonisolated(unsafe) var seen: [Int] = [], workers = Set<Int>()
            ExecutionPlan.automatic.dynamic(count) { w, i in lock.lock(); seen.append(i); workers.insert(w); lock.unlock() }
            XCTAssertEqual(seen.sorted(), Array(0..<count))
            XCTAssert(workers.allSatisfy { $0 >= 0 && $0 < ExecutionPlan.automatic.workers }, "\(workers)")
            // with a serial plan: in order, on this thread, as worker 0
            seen = []
            ExecutionPlan.automatic.serial.dynamic(count) { w, i in XCTAssertEqual(w, 0); seen.append(i) }
            XCTAssertEqual(seen, Array(0..<count))
        }
    }

    func testSharesThenDynamicRunsEveryShareThenEveryTailItemOnce() {
        for (k, count) in [(2, 0), (2, 5), (1, 3), (3, 7)] {
            let lock = NSLock()
            nonisolated(unsafe) var shares: [Int] = [], tail: [Int] = [], shareDone = Set<Int>(), early = false
            ExecutionPlan.automatic.sharesThenDynamic(k, tail: count, share: { w in
                lock.lock(); shares.append(w); lock.unlock()
                Thread.sleep(forTimeInterval: w == 0 ? 0.02 : 0)   // worker 0 late: the others take the tail
                lock.lock(); shareDone.insert(w); lock.unlock()
            }) { w, i in
                lock.lock(); tail.append(i); if !shareDone.contains(w) { early = true }; lock.unlock()
            }
            XCTAssertEqual(shares.sorted(), Array(0..<k), "k=\(k)")
            XCTAssertEqual(tail.sorted(), Array(0..<count), "k=\(k) count=\(count)")
            XCTAssertFalse(early, "a worker took tail items before finishing its share")
        }
    }

    func testChunkPlansCoverTheBatchOnceAndShrinkTowardsTheEnd() {
        for (batch, per, workers) in [(128, 16, 2), (256, 16, 2), (5, 1, 2), (7, 16, 2), (100, 16, 3), (64, 16, 2), (63, 16, 2)] {
            let g = ChunkPlan.guided(batch: batch, perChunk: per, workers: workers, minChunk: max(1, per / 4))
            XCTAssertEqual(g.flatMap { Array($0) }, Array(0..<batch), "guided \(batch) \(per)")
            XCTAssert(g.allSatisfy { $0.count <= per && $0.count >= 1 })
            XCTAssert(zip(g, g.dropFirst()).allSatisfy { $0.count >= $1.count }, "sizes never grow: \(g.map(\.count))")
            XCTAssert(g.dropLast().allSatisfy { $0.count >= max(1, per / 4) }, "only the last chunk is under the minimum")
            let b = ChunkPlan.backward(batch: batch, perChunk: per, workers: workers)
            let all = (b.shares.flatMap { $0 } + b.tail).flatMap { Array($0) }
            XCTAssertEqual(all.sorted(), Array(0..<batch), "backward \(batch) \(per) \(workers)")
            XCTAssertEqual(b.shares.count, min(workers, batch))
            XCTAssert((b.shares.flatMap { $0 } + b.tail).allSatisfy { $0.count >= 1 && $0.count <= per })
            XCTAssertEqual(b, ChunkPlan.backward(batch: batch, perChunk: per, workers: workers), "a pure function")
            let sizes = b.shares.map { $0.reduce(0) { $0 + $1.count } }
            XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "even shares \(sizes)")
        }
        // the reference shape: full chunks then 12, 9, ...; the backward's tail is 8, 8, 4, 4 images
        XCTAssertEqual(ChunkPlan.guided(batch: 128, perChunk: 16, workers: 2, minChunk: 4).map(\.count),
                       [16, 16, 16, 16, 16, 12, 9, 7, 5, 4, 4, 4, 3])
        XCTAssertEqual(ChunkPlan.backward(batch: 128, perChunk: 16, workers: 2).tail.map(\.count), [8, 8, 4, 4])
        XCTAssertEqual(ChunkPlan.backward(batch: 128, perChunk: 16, workers: 2, maxTail: 0).tail, [])
        XCTAssertEqual(ChunkPlan.backward(batch: 63, perChunk: 16, workers: 2).tail, [], "under two full chunks per core")
    }

    func testASerialPlanRunsLoopsInlineOnThisThread() {
        let n = 64, plan = ExecutionPlan.automatic, serial = plan.serial
        // one chunk covering everything, on the calling thread
        XCTAssertEqual(serial.workers, 1)
        XCTAssertEqual(serial.chunkCount(n), 1)
        var seen: [(Int, Int, Int)] = []
        serial.chunksIndexed(n) { w, r0, r1 in seen.append((w, r0, r1)) }
        XCTAssertEqual(seen.map { [$0.0, $0.1, $0.2] }, [[0, 0, n]])
        let caller = Thread.current
        nonisolated(unsafe) var elsewhere = false
        serial.chunks(n) { _, _ in if Thread.current != caller { elsewhere = true } }
        serial.sharesThenDynamic(1, tail: 3, share: { _ in if Thread.current != caller { elsewhere = true } }) { _, _ in
            if Thread.current != caller { elsewhere = true }
        }
        XCTAssertFalse(elsewhere)
        XCTAssertEqual(plan.chunkCount(n), min(plan.workers, n))
        // the serial form changes the threads only
        var back = serial
        back.threads = plan.threads
        XCTAssertEqual(back, plan)
        // threads 0 means every core; fast kernels only where asked for and the CPU has them
        XCTAssertEqual(ExecutionPlan(threads: 3).workers, 3)
        XCTAssertEqual(ExecutionPlan(threads: 0).workers, ExecutionPlan.cores)
        XCTAssertFalse(ExecutionPlan(fastKernels: false).usesFastKernels)
        XCTAssertEqual(ExecutionPlan(fastKernels: true).usesFastKernels, FastKernels.available)
    }

    func testKernelsAtParallelSizesMatchNaive() {
        var rng = RNG(seed: 9)
        let n = 700, c = 24, oc = 40
        let x = FD.randn(n * c, &rng), w = FD.randn(oc * c, &rng, scale: 0.3), b = FD.randn(oc, &rng)
        var out = [Float](repeating: 0, count: n * oc), ref = out
        Linear.forward(out: &out, inp: x, weight: w, bias: b, n: n, c: c, oc: oc, plan: .automatic)
        Linear.forwardNaive(out: &ref, inp: x, weight: w, bias: b, n: n, c: c, oc: oc)
        XCTAssertLessThan(FD.maxAbsDiff(out, ref), 1e-4)
        let dout = FD.randn(n * oc, &rng)
        var dx = [Float](repeating: 1, count: n * c), dw = [Float](repeating: 2, count: oc * c), db = [Float](repeating: 3, count: oc)
        var dxN = dx, dwN = dw, dbN = db
        Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, plan: .automatic)
        Linear.backwardNaive(dinp: &dxN, dweight: &dwN, dbias: &dbN, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc)
        XCTAssertLessThan(FD.maxAbsDiff(dx, dxN), 1e-3)
        XCTAssertLessThan(FD.maxAbsDiff(dw, dwN), 1e-3)
        XCTAssertLessThan(FD.maxAbsDiff(db, dbN), 1e-3)
        var ln = [Float](repeating: 0, count: n * c), lnRef = ln, mean = [Float](repeating: 0, count: n), rstd = mean
        let gw = FD.randn(c, &rng), gb = FD.randn(c, &rng)
        LayerNorm.forward(out: &ln, mean: &mean, rstd: &rstd, inp: x, weight: gw, bias: gb, n: n, c: c, plan: .automatic)
        LayerNorm.forwardNaive(out: &lnRef, inp: x, weight: gw, bias: gb, n: n, c: c)
        XCTAssertLessThan(FD.maxAbsDiff(ln, lnRef), 1e-5)
        // LayerNorm backward: parallel result = serial sum of per-row results (reference: one row at a time)
        let dy = FD.randn(n * c, &rng)
        var dlx = [Float](repeating: 0, count: n * c), dlw = [Float](repeating: 0, count: c), dlb = dlw
        LayerNorm.backward(dinp: &dlx, dweight: &dlw, dbias: &dlb, dout: dy, inp: x, weight: gw, mean: mean, rstd: rstd, n: n, c: c, plan: .automatic)
        var rx = [Float](repeating: 0, count: n * c), rw = [Float](repeating: 0, count: c), rb = rw
        for r in 0..<n {
            rx.withUnsafeMutableBufferPointer { px in
                LayerNorm.backward(dinp: px.baseAddress! + r * c, dweight: &rw, dbias: &rb, dout: Array(dy[(r * c)..<((r + 1) * c)]),
                                   inp: Array(x[(r * c)..<((r + 1) * c)]), weight: gw, mean: [mean[r]], rstd: [rstd[r]], n: 1, c: c, plan: .automatic)
            }
        }
        XCTAssertLessThan(FD.maxAbsDiff(dlx, rx), 1e-5)
        XCTAssertLessThan(FD.maxAbsDiff(dlw, rw), 1e-3)
        XCTAssertLessThan(FD.maxAbsDiff(dlb, rb), 1e-3)
        let big = FD.randn(20_000, &rng).map { $0 * 3 }
        var g = [Float](repeating: 0, count: big.count)
        GELU.forward(out: &g, inp: big, n: big.count, plan: .automatic)
        for i in stride(from: 0, to: big.count, by: 97) { XCTAssertEqual(g[i], GELU.forwardNaive(big[i]), accuracy: 2e-6 * max(1, abs(big[i]))) }
    }

    func testLayerNormMatchesNaiveAndGradients() {
        var rng = RNG(seed: 2)
        let n = 21, c = 19
        var x = FD.randn(n * c, &rng).map { $0 * 2 + 0.5 }
        var w = FD.randn(c, &rng).map { 1 + 0.3 * $0 }, b = FD.randn(c, &rng, scale: 0.3)
        var out = [Float](repeating: 0, count: n * c), naive = out
        var mean = [Float](repeating: 0, count: n), rstd = mean
        LayerNorm.forward(out: &out, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b, n: n, c: c, plan: .automatic)
        LayerNorm.forwardNaive(out: &naive, inp: x, weight: w, bias: b, n: n, c: c)
        XCTAssertLessThan(FD.maxAbsDiff(out, naive), 1e-5)
        var re = [Float](repeating: 0, count: n * c)
        LayerNorm.apply(out: &re, inp: x, mean: mean, rstd: rstd, weight: w, bias: b, n: n, c: c, plan: .automatic)
        XCTAssertEqual(re, out)

        let dout = FD.randn(n * c, &rng)
        var gx = [Float](repeating: 0, count: n * c), gw = [Float](repeating: 0, count: c), gb = gw
        LayerNorm.backward(dinp: &gx, dweight: &gw, dbias: &gb, dout: dout, inp: x, weight: w, mean: mean, rstd: rstd, n: n, c: c, plan: .automatic)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var o = [Float](repeating: 0, count: n * c)
            LayerNorm.forwardNaive(out: &o, inp: x, weight: w, bias: b, n: n, c: c)
            return FD.weighted(o, dout)
        }
        let (x0, w0, b0) = (x, w, b)
        let ix = FD.sampleIndices(n * c, 60, &rng)
        FD.assertClose("layernorm dx", numeric: FD.numeric(&x, indices: ix, eps: 1e-2) { loss($0, w0, b0) }, analytic: ix.map { Double(gx[$0]) })
        FD.assertClose("layernorm dw", numeric: FD.numeric(&w, indices: Array(0..<c), eps: 1e-2) { loss(x0, $0, b0) }, analytic: gw.map(Double.init))
        FD.assertClose("layernorm db", numeric: FD.numeric(&b, indices: Array(0..<c), eps: 1e-2) { loss(x0, w0, $0) }, analytic: gb.map(Double.init))
    }

    func testGELUExactErfAndGradient() {
        var rng = RNG(seed: 3)
        let n = 203   // not a multiple of 8: exercises the tails
        var x = FD.randn(n, &rng).map { $0 * 3 }
        var out = [Float](repeating: 0, count: n)
        GELU.forward(out: &out, inp: x, n: n, plan: .automatic)
        for i in 0..<n { XCTAssertEqual(out[i], GELU.forwardNaive(x[i]), accuracy: 2e-6 * max(1, abs(x[i]))) }
        // exact erf form, not the tanh approximation: they differ by ~1e-4 around |x| = 2
        let tanhApprox: (Float) -> Float = { v in 0.5 * v * (1 + Foundation.tanh(0.7978845608 * (v + 0.044715 * v * v * v))) }
        var y: [Float] = [0]
        GELU.forward(out: &y, inp: [-2.5], n: 1, plan: .automatic)
        XCTAssertGreaterThan(abs(y[0] - tanhApprox(-2.5)), 1e-4)
        XCTAssertEqual(y[0], GELU.forwardNaive(-2.5), accuracy: 1e-6)

        let dout = FD.randn(n, &rng)
        var gx = [Float](repeating: 0.25, count: n)
        GELU.backward(dinp: &gx, inp: x, dout: dout, n: n, plan: .automatic)
        gx = gx.map { $0 - 0.25 }
        var gi = dout
        GELU.backwardInPlace(&gi, inp: x, n: n, plan: .automatic)
        XCTAssertLessThan(FD.maxAbsDiff(gi, gx), 1e-5)
        let num = FD.numeric(&x, indices: Array(0..<n), eps: 1e-2) { xs in FD.weighted(xs.map(GELU.forwardNaive), dout) }
        FD.assertClose("gelu dx", numeric: num, analytic: gx.map(Double.init), rtol: 1e-3)
    }

    func testAttentionMatchesNaiveAndGradients() {
        var rng = RNG(seed: 4)
        let b = 3, t = 7, c = 12, h = 3
        var qkv = FD.randn(b * t * 3 * c, &rng)
        var out = [Float](repeating: 0, count: b * t * c), naive = out, out2 = out
        var att = [Float](repeating: 0, count: b * h * t * t)
        Attention.forward(out: &out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: h, plan: .automatic)
        Attention.forwardNaive(out: &naive, qkv: qkv, b: b, t: t, c: c, heads: h)
        XCTAssertLessThan(FD.maxAbsDiff(out, naive), 1e-5)
        Attention.forward(out: &out2, att: nil, qkv: qkv, b: b, t: t, c: c, heads: h, plan: .automatic)   // inference scratch path
        XCTAssertEqual(out2, out)
        for r in 0..<(b * h * t) { XCTAssertEqual(att[r * t ..< (r + 1) * t].reduce(0, +), 1, accuracy: 1e-5) }

        let dout = FD.randn(b * t * c, &rng)
        var g = [Float](repeating: 0, count: qkv.count)
        Attention.backward(dqkv: &g, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: h, plan: .automatic)
        var g2 = [Float](repeating: 9, count: qkv.count)
        Attention.backward(dqkv: &g2, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: h, overwrite: true, plan: .automatic)
        XCTAssertLessThan(FD.maxAbsDiff(g, g2), 1e-5)
        let idx = FD.sampleIndices(qkv.count, 120, &rng)
        let num = FD.numeric(&qkv, indices: idx, eps: 1e-2) { q in
            var o = [Float](repeating: 0, count: b * t * c)
            Attention.forwardNaive(out: &o, qkv: q, b: b, t: t, c: c, heads: h)
            return FD.weighted(o, dout)
        }
        FD.assertClose("attention dqkv", numeric: num, analytic: idx.map { Double(g[$0]) })
    }

    func testAttentionHeadLayoutIsTimm() {
        // With q = 0 attention is uniform: head h's output is the mean of v over tokens in columns h*hd..<(h+1)*hd.
        let b = 1, t = 4, c = 6, h = 2
        var qkv = [Float](repeating: 0, count: t * 3 * c)
        for ti in 0..<t { for j in 0..<c { qkv[ti * 3 * c + 2 * c + j] = Float(ti * 10 + j) } }
        var out = [Float](repeating: 0, count: t * c)
        Attention.forward(out: &out, att: nil, qkv: qkv, b: b, t: t, c: c, heads: h, plan: .automatic)
        for j in 0..<c { XCTAssertEqual(out[j], Float(15 + j), accuracy: 1e-4) }
        // a large q.k for head 1 only, on token 2, changes only head 1's columns
        for ti in 0..<t { qkv[ti * 3 * c + 3] = 5; }
        qkv[2 * 3 * c + c + 3] = 5
        Attention.forward(out: &out, att: nil, qkv: qkv, b: b, t: t, c: c, heads: h, plan: .automatic)
        for j in 0..<3 { XCTAssertEqual(out[j], Float(15 + j), accuracy: 1e-4) }
        for j in 3..<6 { XCTAssertEqual(out[j], Float(20 + j), accuracy: 1e-3) }
    }

    func testPosEmbedMeanPoolResidualAndAdaLNGradients() {
        var rng = RNG(seed: 5)
        let b = 3, t = 4, c = 8
        // mean pool
        var x = FD.randn(b * t * c, &rng)
        let dpool = FD.randn(b * c, &rng)
        var gx = [Float](repeating: 0, count: x.count)
        MeanPool.backward(dx: &gx, dout: dpool, b: b, t: t, c: c)
        let numPool = FD.numeric(&x, indices: Array(0..<x.count), eps: 1e-2) { xs in
            var o = [Float](repeating: 0, count: b * c); MeanPool.forward(out: &o, x: xs, b: b, t: t, c: c); return FD.weighted(o, dpool)
        }
        FD.assertClose("meanpool", numeric: numPool, analytic: gx.map(Double.init))
        // pos embed add
        var pos = FD.randn(t * c, &rng)
        let dx = FD.randn(b * t * c, &rng)
        var gp = [Float](repeating: 0, count: t * c)
        PosEmbedAdd.backward(dpos: &gp, dx: dx, b: b, t: t, c: c, plan: .automatic)
        let x0 = x
        let numPos = FD.numeric(&pos, indices: Array(0..<pos.count), eps: 1e-2) { p in
            var y = x0; PosEmbedAdd.forward(x: &y, pos: p, b: b, t: t, c: c, plan: .automatic); return FD.weighted(y, dx)
        }
        FD.assertClose("pos embed", numeric: numPos, analytic: gp.map(Double.init))
        // residual
        var ra = [Float](repeating: 0, count: x.count), rb = ra
        Residual.backward(da: &ra, db: &rb, dout: dx, n: x.count, plan: .automatic)
        XCTAssertEqual(ra, dx); XCTAssertEqual(rb, dx)

        // adaLN modulate and gated residual, mod rows at stride 6c
        let stride = 6 * c
        var mod = FD.randn(b * stride, &rng, scale: 0.5)
        let y = FD.randn(b * t * c, &rng)
        let dy = FD.randn(b * t * c, &rng)
        func modLoss(_ xs: [Float], _ m: [Float]) -> Double {
            var o = [Float](repeating: 0, count: xs.count)
            m.withUnsafeBufferPointer { mp in
                AdaLN.modulate(out: &o, x: xs, shift: mp.baseAddress!, scale: mp.baseAddress! + c, stride: stride, b: b, t: t, c: c, plan: .automatic)
            }
            return FD.weighted(o, dy)
        }
        var gmod = [Float](repeating: 0, count: mod.count), gxm = [Float](repeating: 0, count: x.count)
        gmod.withUnsafeMutableBufferPointer { gm in
            mod.withUnsafeBufferPointer { mp in
                AdaLN.modulateBackward(dx: &gxm, dy: dy, x: x, scale: mp.baseAddress! + c, dshift: gm.baseAddress!,
                                       dscale: gm.baseAddress! + c, stride: stride, b: b, t: t, c: c, plan: .automatic)
            }
        }
        let mod0 = mod
        FD.assertClose("modulate dx", numeric: FD.numeric(&x, indices: Array(0..<x.count), eps: 1e-2) { modLoss($0, mod0) },
                       analytic: gxm.map(Double.init))
        let xx = x
        let mi = (0..<b).flatMap { bi in (0..<(2 * c)).map { bi * stride + $0 } }
        FD.assertClose("modulate dshift/dscale", numeric: FD.numeric(&mod, indices: mi, eps: 1e-2) { modLoss(xx, $0) },
                       analytic: mi.map { Double(gmod[$0]) })
        func gateLoss(_ xs: [Float], _ m: [Float], _ ys: [Float]) -> Double {
            var o = [Float](repeating: 0, count: xs.count)
            m.withUnsafeBufferPointer { mp in
                AdaLN.gatedResidual(out: &o, x: xs, gate: mp.baseAddress! + 2 * c, y: ys, stride: stride, b: b, t: t, c: c, plan: .automatic)
            }
            return FD.weighted(o, dy)
        }
        var gg = [Float](repeating: 0, count: mod.count), gy = [Float](repeating: 0, count: y.count)
        gg.withUnsafeMutableBufferPointer { gp in
            mod.withUnsafeBufferPointer { mp in
                AdaLN.gatedResidualBackward(dy: &gy, dgate: gp.baseAddress! + 2 * c, dout: dy, y: y, gate: mp.baseAddress! + 2 * c,
                                            stride: stride, b: b, t: t, c: c, plan: .automatic)
            }
        }
        var yv = y
        let mod1 = mod
        FD.assertClose("gate dy", numeric: FD.numeric(&yv, indices: Array(0..<y.count), eps: 1e-2) { gateLoss(xx, mod1, $0) },
                       analytic: gy.map(Double.init))
        let gi = (0..<b).flatMap { bi in (0..<c).map { bi * stride + 2 * c + $0 } }
        FD.assertClose("gate dgate", numeric: FD.numeric(&mod, indices: gi, eps: 1e-2) { gateLoss(xx, $0, y) },
                       analytic: gi.map { Double(gg[$0]) })
        // SiLU
        var s = FD.randn(50, &rng, scale: 2)
        let ds = FD.randn(50, &rng)
        var gs = ds
        AdaLN.siluBackwardInPlace(&gs, x: s, n: 50)
        let numS = FD.numeric(&s, indices: Array(0..<50), eps: 1e-2) { v in
            var o = v; AdaLN.silu(out: &o, x: v, n: 50); return FD.weighted(o, ds)
        }
        FD.assertClose("silu", numeric: numS, analytic: gs.map(Double.init), rtol: 1e-3)
    }

    func testSinCosPosEmbedFollowsMAE() throws {
        let dim = 16, grid = 3
        let pe = SinCosPosEmbed.make(dim: dim, grid: grid)
        // token (row 0, col 0): sin parts 0, cos parts 1
        for k in 0..<4 { XCTAssertEqual(pe[k], 0); XCTAssertEqual(pe[4 + k], 1); XCTAssertEqual(pe[8 + k], 0); XCTAssertEqual(pe[12 + k], 1) }
        // token (row 1, col 2): first half encodes the column (2), second half the row (1); omega_0 = 1
        let m = 1 * grid + 2
        XCTAssertEqual(pe[m * dim + 0], Float(sin(2.0)), accuracy: 1e-6)
        XCTAssertEqual(pe[m * dim + 8], Float(sin(1.0)), accuracy: 1e-6)
        XCTAssertEqual(pe[m * dim + 8 + 4 + 1], Float(cos(0.1)), accuracy: 1e-6)   // omega_1 = 10000^(-1/4) = 0.1
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("no python3 with numpy") }
        // MAE's util/pos_embed.py, verbatim in numpy
        let script = """
        import numpy as np, sys
        def g1(d, pos):
            omega = np.arange(d // 2, dtype=np.float64); omega /= d / 2.; omega = 1. / 10000**omega
            out = np.einsum('m,d->md', pos.reshape(-1), omega)
            return np.concatenate([np.sin(out), np.cos(out)], axis=1)
        def g2(d, gs):
            gh = np.arange(gs, dtype=np.float32); gw = np.arange(gs, dtype=np.float32)
            grid = np.stack(np.meshgrid(gw, gh), axis=0).reshape([2, 1, gs, gs])
            return np.concatenate([g1(d // 2, grid[0]), g1(d // 2, grid[1])], axis=1)
        print(' '.join('%.7f' % v for v in g2(int(sys.argv[1]), int(sys.argv[2])).reshape(-1)))
        """
        let out = try TestSupport.runPython(py, script, args: ["8", "4"])
        let ref = out.split(separator: " ").compactMap { Float($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let ours = SinCosPosEmbed.make(dim: 8, grid: 4)
        XCTAssertEqual(ref.count, ours.count)
        XCTAssertLessThan(FD.maxAbsDiff(ref, ours), 1e-5)
    }
}
