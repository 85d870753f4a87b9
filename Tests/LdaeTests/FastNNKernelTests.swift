import Foundation
import XCTest
@testable import Ldae

/// The AVX2 C kernels for GELU and attention (Sources/CKernels, chosen by FastKernels.enabled) and their portable
/// Swift fallbacks, each against the naive references and finite differences. Every check runs on both paths
/// (the fast one only where FastKernels.available).
final class FastNNKernelTests: XCTestCase {
    /// Runs body(path name) with FastKernels.enabled = true (when the CPU has AVX2+FMA) and = false, restoring it.
    private func onBothPaths(_ body: (String) -> Void) {
        let saved = FastKernels.enabled
        defer { FastKernels.enabled = saved }
        let paths: [(String, Bool)] = FastKernels.available ? [("fast", true), ("portable", false)] : [("portable", false)]
        for (name, on) in paths {
            FastKernels.enabled = on
            body(name)
        }
    }

    // MARK: GELU

    func testGELUForwardMatchesLibmErf() {
        var rng = RNG(seed: 11)
        // n % 8 = 3 (the masked tail); |x| up to ~15 covers the erf clamp at 4 sqrt 2 and the exp clamp
        let n = 8 * 61 + 3
        var x = FD.randn(n, &rng).map { $0 * 4 }
        x[0] = 0; x[1] = -15; x[2] = 15; x[n - 1] = -6.5; x[n - 2] = 5.75; x[n - 3] = -0.3
        onBothPaths { path in
            var out = [Float](repeating: .nan, count: n)
            GELU.forward(out: &out, inp: x, n: n)
            var worst: Float = 0
            for i in 0..<n { worst = max(worst, abs(out[i] - GELU.forwardNaive(x[i])) / max(1, abs(x[i]))) }
            XCTAssertLessThan(worst, 1e-6, "\(path): gelu vs libm erf")
            // in place (out aliases inp)
            var y = x
            y.withUnsafeMutableBufferPointer { GELU.forward(out: $0.baseAddress!, inp: $0.baseAddress!, n: n) }
            XCTAssertEqual(y, out, "\(path): in-place forward")
            // a short buffer (n < 8: only the masked tail) leaves the element after it alone
            var z: [Float] = [-2.5, 0.5, 1.25, 42]
            GELU.forward(out: &z, inp: [-2.5, 0.5, 1.25], n: 3)
            XCTAssertEqual(z[0], GELU.forwardNaive(-2.5), accuracy: 1e-6, path)
            XCTAssertEqual(z[2], GELU.forwardNaive(1.25), accuracy: 1e-6, path)
            XCTAssertEqual(z[3], 42, path)
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
            var gx = [Float](repeating: 0.25, count: n + 1)   // one past the end: must stay 0.25
            GELU.backward(dinp: &gx, inp: x, dout: dout, n: n)
            XCTAssertEqual(gx[n], 0.25, "\(path): backward wrote past n")
            let added = gx[0..<n].map { Double($0) - 0.25 }
            FD.assertClose("\(path) gelu dx (adding)", numeric: num, analytic: added, rtol: 1e-3)
            var gi = dout + [7]
            GELU.backwardInPlace(&gi, inp: x, n: n)
            XCTAssertEqual(gi[n], 7, "\(path): backwardInPlace wrote past n")
            FD.assertClose("\(path) gelu dx (in place)", numeric: num, analytic: gi[0..<n].map(Double.init), rtol: 1e-3)
            for i in 0..<n { XCTAssertEqual(Double(gi[i]), added[i], accuracy: 1e-5, "\(path) in place vs adding at \(i)") }
            // the derivative itself against a Double reference: Phi(x) + x phi(x)
            var ones = [Float](repeating: 1, count: n)
            GELU.backwardInPlace(&ones, inp: x, n: n)
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
        let saved = FastKernels.enabled
        defer { FastKernels.enabled = saved }
        var outs: [[Float]] = [], grads: [[Float]] = []
        for on in [true, false] {
            FastKernels.enabled = on
            var o = [Float](repeating: 0, count: n), g = d
            GELU.forward(out: &o, inp: x, n: n)
            GELU.backwardInPlace(&g, inp: x, n: n)
            outs.append(o); grads.append(g)
        }
        XCTAssertLessThan(FD.maxAbsDiff(outs[0], outs[1]), 2e-6)
        XCTAssertLessThan(FD.maxAbsDiff(grads[0], grads[1]), 2e-6 * 4)
    }
}
