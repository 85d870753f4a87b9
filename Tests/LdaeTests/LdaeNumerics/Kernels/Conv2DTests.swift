import Foundation
import XCTest
@testable import Ldae

/// The im2col conv against its direct-loop reference, its backward and the nearest upsampling's against finite
/// differences (Kernels/Conv2D.swift, Kernels/Upsample.swift).
final class Conv2DTests: XCTestCase {
    /// (batch, inC, outC, h, w, kernel, stride, pad)
    typealias Shape = (b: Int, c: Int, oc: Int, h: Int, w: Int, k: Int, s: Int, p: Int)

    static let shapes: [Shape] = [
        (1, 3, 5, 7, 7, 3, 1, 1), (3, 4, 6, 8, 8, 4, 2, 1), (2, 5, 3, 9, 6, 3, 2, 0), (5, 6, 7, 4, 4, 1, 1, 0),
        (3, 2, 4, 5, 7, 3, 1, 0), (2, 3, 8, 6, 6, 4, 2, 1), (2, 4, 3, 6, 5, 1, 2, 0), (7, 3, 2, 3, 3, 3, 1, 1),
        // several im2col chunks, the boundaries inside images
        (3, 32, 8, 24, 20, 3, 1, 1),
    ]

    static func outSize(_ s: Shape) -> (Int, Int) {
        (Conv2D.outputSize(s.h, kernel: s.k, stride: s.s, pad: s.p), Conv2D.outputSize(s.w, kernel: s.k, stride: s.s, pad: s.p))
    }

    static func forward(_ s: Shape, _ x: [Float], _ wt: [Float], _ b: [Float], reference: Bool,
                        scratch: UnsafeMutableBufferPointer<Float>? = nil) -> [Float] {
        let (ho, wo) = outSize(s)
        var out = [Float](repeating: .nan, count: s.b * ho * wo * s.oc)
        if reference {
            Conv2D.forwardReference(out: &out, inp: x, weight: wt, bias: b, batch: s.b, inC: s.c, outC: s.oc, h: s.h, w: s.w,
                                    kernel: s.k, stride: s.s, pad: s.p)
        } else {
            Conv2D.forward(out: &out, inp: x, weight: wt, bias: b, batch: s.b, inC: s.c, outC: s.oc, h: s.h, w: s.w,
                           kernel: s.k, stride: s.s, pad: s.p, scratch: scratch)
        }
        return out
    }

    func testIm2colForwardMatchesDirectReference() {
        var rng = RNG(seed: 11)
        for s in Self.shapes {
            let x = FD.randn(s.b * s.h * s.w * s.c, &rng), wt = FD.randn(s.oc * s.k * s.k * s.c, &rng, scale: 0.3)
            let b = FD.randn(s.oc, &rng)
            let ref = Self.forward(s, x, wt, b, reference: true)
            let fast = Self.forward(s, x, wt, b, reference: false)
            let scale = ref.map { abs($0) }.max()!
            XCTAssertGreaterThan(scale, 0.1, "\(s)")
            XCTAssertLessThanOrEqual(FD.maxAbsDiff(fast, ref) / scale, 1e-5, "\(s)")
            // a caller's scratch (with junk in it) gives the same result
            let n = Conv2D.scratchCount(batch: s.b, inC: s.c, h: s.h, w: s.w, kernel: s.k, stride: s.s, pad: s.p)
            var junk = [Float](repeating: 1e30, count: n + 3)
            let withScratch = junk.withUnsafeMutableBufferPointer { Self.forward(s, x, wt, b, reference: false, scratch: $0) }
            XCTAssertEqual(withScratch, fast, "\(s)")
        }
        // the reference is the definition: one hand-computed pixel (1 image, 1 channel, 3x3 of ones, pad 1)
        let x: [Float] = [1, 2, 3, 4]
        var out = [Float](repeating: 0, count: 4)
        Conv2D.forwardReference(out: &out, inp: x, weight: [Float](repeating: 1, count: 9), bias: [0.5], batch: 1, inC: 1,
                                outC: 1, h: 2, w: 2, kernel: 3, stride: 1, pad: 1)
        XCTAssertEqual(out, [10.5, 10.5, 10.5, 10.5])
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = RNG(seed: 12)
        for s in Self.shapes.prefix(8) {
            var x = FD.randn(s.b * s.h * s.w * s.c, &rng), wt = FD.randn(s.oc * s.k * s.k * s.c, &rng, scale: 0.3)
            var b = FD.randn(s.oc, &rng)
            let (ho, wo) = Self.outSize(s)
            let dout = FD.randn(s.b * ho * wo * s.oc, &rng)
            // the gradients start from non-zero values: backward adds
            let x0 = FD.randn(x.count, &rng), w0 = FD.randn(wt.count, &rng), b0 = FD.randn(b.count, &rng)
            var dx = x0, dw = w0, db = b0
            Conv2D.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: wt, batch: s.b, inC: s.c,
                            outC: s.oc, h: s.h, w: s.w, kernel: s.k, stride: s.s, pad: s.p)
            func loss(_ x: [Float], _ wt: [Float], _ b: [Float]) -> Double {
                FD.weighted(Self.forward(s, x, wt, b, reference: true), dout)
            }
            let (xs, ws, bs) = (x, wt, b)
            let ix = FD.sampleIndices(x.count, 40, &rng), iw = FD.sampleIndices(wt.count, 40, &rng)
            FD.assertClose("conv dinp \(s)", numeric: FD.numeric(&x, indices: ix, eps: 1e-2) { loss($0, ws, bs) },
                           analytic: ix.map { Double(dx[$0] - x0[$0]) }, rtol: 1e-3)
            FD.assertClose("conv dweight \(s)", numeric: FD.numeric(&wt, indices: iw, eps: 1e-2) { loss(xs, $0, bs) },
                           analytic: iw.map { Double(dw[$0] - w0[$0]) }, rtol: 1e-3)
            FD.assertClose("conv dbias \(s)", numeric: FD.numeric(&b, indices: Array(0..<s.oc), eps: 1e-2) { loss(xs, ws, $0) },
                           analytic: (0..<s.oc).map { Double(db[$0] - b0[$0]) }, rtol: 1e-3)
            // without dinp, the same weight gradient
            var dw2 = w0
            Conv2D.backward(dinp: nil, dweight: &dw2, dbias: nil, dout: dout, inp: x, weight: wt, batch: s.b, inC: s.c,
                            outC: s.oc, h: s.h, w: s.w, kernel: s.k, stride: s.s, pad: s.p)
            XCTAssertLessThan(FD.maxAbsDiff(dw2, dw), 1e-4, "\(s)")
        }
    }

    func testUpsampleForwardAndFiniteDifferences() {
        var rng = RNG(seed: 13)
        let (b, h, w, c) = (2, 3, 4, 5)
        var x = FD.randn(b * h * w * c, &rng)
        var out = [Float](repeating: .nan, count: b * 4 * h * w * c)
        Upsample2x.forward(out: &out, inp: x, batch: b, h: h, w: w, c: c)
        for bi in 0..<b { for y in 0..<(2 * h) { for xx in 0..<(2 * w) { for ci in 0..<c {
            XCTAssertEqual(out[((bi * 2 * h + y) * 2 * w + xx) * c + ci], x[((bi * h + y / 2) * w + xx / 2) * c + ci])
        } } } }
        let dout = FD.randn(out.count, &rng), start = FD.randn(x.count, &rng)
        var dx = start
        Upsample2x.backward(dinp: &dx, dout: dout, batch: b, h: h, w: w, c: c)
        func loss(_ x: [Float]) -> Double {
            var o = [Float](repeating: 0, count: b * 4 * h * w * c)
            Upsample2x.forward(out: &o, inp: x, batch: b, h: h, w: w, c: c)
            return FD.weighted(o, dout)
        }
        let all = Array(0..<x.count)
        FD.assertClose("upsample dinp", numeric: FD.numeric(&x, indices: all, eps: 1e-2, loss: loss),
                       analytic: all.map { Double(dx[$0] - start[$0]) }, rtol: 1e-3)
    }
}
