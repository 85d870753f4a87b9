import Foundation
import XCTest
@testable import Ldae

/// The AVX2 C kernels for GELU and attention (Sources/CKernels, chosen by the plan's fastKernels) and their portable
/// Swift fallbacks, each against the naive references and finite differences. Every check runs on both paths
/// (the fast one only where FastKernels.available).
final class FastNNKernelTests: XCTestCase {
    /// Runs body on each kernel path this CPU has (`TestSupport.kernelPaths`).
    private func onBothPaths(_ body: (KernelPath) -> Void) {
        for p in TestSupport.kernelPaths { body(p) }
    }

    // MARK: GELU

    func testGELUForwardMatchesLibmErf() {
        var rng = RNG(seed: 11)
        // n % 8 = 3 (the masked tail); |x| up to ~15 covers the erf clamp at 4 sqrt 2 and the exp clamp
        let n = 8 * 61 + 3
        var x = FD.randn(n, &rng).map { $0 * 4 }
        x[0] = 0; x[1] = -15; x[2] = 15; x[n - 1] = -6.5; x[n - 2] = 5.75; x[n - 3] = -0.3
        onBothPaths { path in
            let plan = path.plan
            var out = [Float](repeating: .nan, count: n)
            GELU.forward(out: &out, inp: x, n: n, plan: plan)
            var worst: Float = 0
            for i in 0..<n { worst = max(worst, abs(out[i] - GELU.forwardNaive(x[i])) / max(1, abs(x[i]))) }
            XCTAssertLessThan(worst, 1e-6, "\(path): gelu vs libm erf")
            // in place (out aliases inp)
            var y = x
            y.withUnsafeMutableBufferPointer { GELU.forward(out: $0.baseAddress!, inp: $0.baseAddress!, n: n, plan: plan) }
            XCTAssertEqual(y, out, "\(path): in-place forward")
            // a short buffer (n < 8: only the masked tail) leaves the element after it alone
            var z: [Float] = [-2.5, 0.5, 1.25, 42]
            GELU.forward(out: &z, inp: [-2.5, 0.5, 1.25], n: 3, plan: plan)
            XCTAssertEqual(z[0], GELU.forwardNaive(-2.5), accuracy: 1e-6, "\(path)")
            XCTAssertEqual(z[2], GELU.forwardNaive(1.25), accuracy: 1e-6, "\(path)")
            XCTAssertEqual(z[3], 42, "\(path)")
        }
    }

    func testGELUBackwardMatchesFiniteDifferences() {
        var rng = RNG(seed: 12)
        let n = 8 * 25 + 5
        var x = FD.randn(n, &rng).map { $0 * 3 }
        x[n - 1] = -9; x[n - 2] = 7
        let dout = FD.randn(n, &rng)
        let num = FD.numeric(&x, indices: Array(0..<n), eps: 1e-2) { xs in FD.weighted(xs.map(GELU.forwardNaive), dout) }
        onBothPaths { path in
            let plan = path.plan
            var gx = [Float](repeating: 0.25, count: n + 1)   // one past the end: must stay 0.25
            GELU.backward(dinp: &gx, inp: x, dout: dout, n: n, plan: plan)
            XCTAssertEqual(gx[n], 0.25, "\(path): backward wrote past n")
            let added = gx[0..<n].map { Double($0) - 0.25 }
            FD.assertClose("\(path) gelu dx (adding)", numeric: num, analytic: added, rtol: 1e-3)
            var gi = dout + [7]
            GELU.backwardInPlace(&gi, inp: x, n: n, plan: plan)
            XCTAssertEqual(gi[n], 7, "\(path): backwardInPlace wrote past n")
            FD.assertClose("\(path) gelu dx (in place)", numeric: num, analytic: gi[0..<n].map(Double.init), rtol: 1e-3)
            for i in 0..<n { XCTAssertEqual(Double(gi[i]), added[i], accuracy: 1e-5, "\(path) in place vs adding at \(i)") }
            // the derivative itself against a Double reference: Phi(x) + x phi(x)
            var ones = [Float](repeating: 1, count: n)
            GELU.backwardInPlace(&ones, inp: x, n: n, plan: plan)
            var worst = 0.0
            for i in 0..<n {
                let v = Double(x[i])
                let ref = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                worst = max(worst, abs(Double(ones[i]) - ref))
            }
            XCTAssertLessThan(worst, 2e-6, "\(path): gelu' vs libm")
        }
    }

    /// The fast and portable paths agree elementwise at a size that splits over the workers.
    func testGELUFastMatchesPortableAtParallelSize() throws {
        guard FastKernels.available else { return }
        var rng = RNG(seed: 13)
        let n = 3 * 4096 + 13
        let x = FD.randn(n, &rng).map { $0 * 3 }
        let d = FD.randn(n, &rng)
        var outs: [[Float]] = [], grads: [[Float]] = []
        for on in [true, false] {
            let plan = ExecutionPlan(fastKernels: on)
            var o = [Float](repeating: 0, count: n), g = d
            GELU.forward(out: &o, inp: x, n: n, plan: plan)
            GELU.backwardInPlace(&g, inp: x, n: n, plan: plan)
            outs.append(o); grads.append(g)
        }
        XCTAssertLessThan(FD.maxAbsDiff(outs[0], outs[1]), 2e-6)
        XCTAssertLessThan(FD.maxAbsDiff(grads[0], grads[1]), 2e-6 * 4)
    }

    func testGELUForwardAndDerivativeInOnePassMatchTheSeparateKernels() {
        var rng = RNG(seed: 17)
        // below one 8-lane step, a tail, and a size split over the cores
        for n in [5, 8 * 3 + 5, 2 * 4096 + 7] {
            let x = FD.randn(n, &rng).map { $0 * 3 }
            for on in FastKernels.available ? [true, false] : [false] {
                let plan = ExecutionPlan(fastKernels: on)
                var out = [Float](repeating: .nan, count: n), xd = x
                GELU.forwardAndDerivative(out: &out, x: &xd, n: n, plan: plan)
                var ref = [Float](repeating: .nan, count: n), ones = [Float](repeating: 1, count: n)
                GELU.forward(out: &ref, inp: x, n: n, plan: plan)
                GELU.backwardInPlace(&ones, inp: x, n: n, plan: plan)   // 1 * gelu'(x)
                XCTAssertEqual(out, ref, "gelu n=\(n) fast=\(on)")
                XCTAssertEqual(xd, ones, "gelu' n=\(n) fast=\(on)")
                for i in 0..<min(n, 16) {   // and against a Double reference: Phi(x) + x phi(x)
                    let v = Double(x[i])
                    let d = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                    XCTAssertEqual(Double(xd[i]), d, accuracy: 1e-5)
                }
            }
        }
    }

    // MARK: attention

    /// Shapes that hit the C kernel's edges: T not a multiple of 8 or 16 (and below / equal to the 6-row tile), head
    /// dim not a multiple of 8 (and of 16; and multiples of 16, read in place), several heads, and the reference T = hd = 64.
    private static let attentionShapes: [(b: Int, t: Int, c: Int, h: Int)] = [
        (3, 7, 12, 3),    // hd 4
        (2, 13, 30, 3),   // hd 10
        (1, 17, 40, 2),   // hd 20: one full 8x8 transpose block plus edges
        (2, 6, 8, 1),     // T = one row tile, hd 8
        (1, 33, 36, 2),   // 33 = 5 row tiles + 3, hd 18
        (1, 1, 5, 1),     // a single token
        (1, 64, 128, 2),  // hd 64, T 64: the reference per-head shape
        (2, 13, 32, 2),   // hd 16, 32: operands read in place (no panel) at an odd T
        (1, 21, 96, 3),
    ]

    func testAttentionForwardMatchesNaive() {
        var rng = RNG(seed: 21)
        for (b, t, c, h) in Self.attentionShapes {
            let qkv = FD.randn(b * t * 3 * c, &rng, scale: 1.5)
            var naive = [Float](repeating: 0, count: b * t * c)
            Attention.forwardNaive(out: &naive, qkv: qkv, b: b, t: t, c: c, heads: h)
            onBothPaths { path in
                let plan = path.plan
                let tag = "\(path) b\(b) t\(t) c\(c) h\(h)"
                var out = [Float](repeating: .nan, count: b * t * c)
                var att = [Float](repeating: .nan, count: b * h * t * t)
                Attention.forward(out: &out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: h, plan: plan)
                XCTAssertLessThan(FD.maxAbsDiff(out, naive), 1e-5, tag)
                XCTAssertFalse(out.contains { !$0.isFinite }, tag)
                for r in 0..<(b * h * t) {
                    XCTAssertEqual(att[r * t ..< (r + 1) * t].reduce(0, +), 1, accuracy: 1e-5, "\(tag) att row \(r)")
                }
                // inference: att == nil uses scratch, same output
                var out2 = [Float](repeating: .nan, count: b * t * c)
                Attention.forward(out: &out2, att: nil, qkv: qkv, b: b, t: t, c: c, heads: h, plan: plan)
                XCTAssertEqual(out2, out, "\(tag) att nil")
            }
        }
    }

    func testAttentionBackwardMatchesFiniteDifferencesAddingAndOverwrite() {
        var rng = RNG(seed: 22)
        for (b, t, c, h) in Self.attentionShapes {
            var qkv = FD.randn(b * t * 3 * c, &rng)
            let dout = FD.randn(b * t * c, &rng)
            let idx = FD.sampleIndices(qkv.count, 80, &rng)
            let num = FD.numeric(&qkv, indices: idx, eps: 1e-2) { q in
                var o = [Float](repeating: 0, count: b * t * c)
                Attention.forwardNaive(out: &o, qkv: q, b: b, t: t, c: c, heads: h)
                return FD.weighted(o, dout)
            }
            onBothPaths { path in
                let plan = path.plan
                let tag = "\(path) b\(b) t\(t) c\(c) h\(h)"
                var out = [Float](repeating: 0, count: b * t * c)
                var att = [Float](repeating: 0, count: b * h * t * t)
                Attention.forward(out: &out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: h, plan: plan)
                // adding into 0.5, then overwrite into NaN: the same gradient
                var g = [Float](repeating: 0.5, count: qkv.count)
                Attention.backward(dqkv: &g, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: h, plan: plan)
                var g2 = [Float](repeating: .nan, count: qkv.count)
                Attention.backward(dqkv: &g2, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: h, overwrite: true, plan: plan)
                let added = g.map { $0 - 0.5 }
                XCTAssertFalse(g2.contains { !$0.isFinite }, "\(tag) overwrite left NaN")
                XCTAssertLessThan(FD.maxAbsDiff(added, g2), 1e-5, "\(tag) adding vs overwrite")
                FD.assertClose("\(tag) attention dqkv", numeric: num, analytic: idx.map { Double(g2[$0]) })
            }
        }
    }

    /// Fast and portable agree closely at the model's shape (B*H = 6 pairs, split over the workers).
    func testAttentionFastMatchesPortableAtModelShape() {
        guard FastKernels.available else { return }
        var rng = RNG(seed: 23)
        let b = 2, t = 64, c = 192, h = 3
        let qkv = FD.randn(b * t * 3 * c, &rng), dout = FD.randn(b * t * c, &rng)
        var res: [([Float], [Float], [Float])] = []
        for on in [true, false] {
            let plan = ExecutionPlan(fastKernels: on)
            var out = [Float](repeating: 0, count: b * t * c), att = [Float](repeating: 0, count: b * h * t * t)
            Attention.forward(out: &out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: h, plan: plan)
            var g = [Float](repeating: 0.25, count: qkv.count)
            Attention.backward(dqkv: &g, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: h, plan: plan)
            res.append((out, att, g))
        }
        XCTAssertLessThan(FD.maxAbsDiff(res[0].0, res[1].0), 1e-5, "out")
        XCTAssertLessThan(FD.maxAbsDiff(res[0].1, res[1].1), 1e-6, "att")
        XCTAssertLessThan(FD.maxAbsDiff(res[0].2, res[1].2), 1e-5, "dqkv")
    }
}
