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
}
