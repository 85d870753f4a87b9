import Foundation
import XCTest
@testable import Ldae

/// ldae's AVX2 SGEMM (CKernels/gemm.c) and its OpenBLAS fallback against the plain-loop reference kept beside it,
/// on every layout and at edge sizes of the 6x16 tiling and of the reduction blocking.
final class FastGEMMTests: XCTestCase {
    /// Runs body on each kernel path this CPU has (`TestSupport.kernelPaths`).
    static func onBothPaths(_ body: (KernelPath) throws -> Void) rethrows {
        for p in TestSupport.kernelPaths { try body(p) }
    }

    func testSGEMMMatchesReferenceOnEveryLayoutAndEdgeSize() {
        var rng = RNG(seed: 11)
        // (m, n, k): tiles of 6x16 with remainders, one element, k = 0, and k > 1024 (blocked reduction).
        let shapes = [(1, 1, 1), (7, 5, 3), (6, 16, 8), (13, 37, 300), (150, 33, 17), (5, 40, 1030), (12, 17, 0)]
        Self.onBothPaths { path in
            let plan = path.plan
            for (m, n, k) in shapes {
                for ta in [false, true] {
                    for tb in [false, true] {
                        for (alpha, beta, withBias) in [(Float(1), Float(0), false), (0.7, 0.5, true), (1, 1, false), (-1.5, 0, true)] {
                            let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2
                            let a = FD.randn((ta ? k : m) * lda + 1, &rng), b = FD.randn((tb ? n : k) * ldb + 1, &rng)
                            let bias = FD.randn(n, &rng)
                            // beta 0 must not read C: start from NaN there.
                            var c = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : FD.randn(m * ldc, &rng)
                            var ref = c
                            bias.withUnsafeBufferPointer { bp in
                                FastKernels.sgemm(fast: plan.usesFastKernels, transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                                  b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc,
                                                  bias: withBias ? bp.baseAddress : nil)
                                FastKernels.sgemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a,
                                                           lda: lda, b: b, ldb: ldb, beta: beta, c: &ref, ldc: ldc,
                                                           bias: withBias ? bp.baseAddress : nil)
                            }
                            var worst: Float = 0
                            for i in 0..<m {
                                for j in 0..<n {
                                    let d = abs(c[i * ldc + j] - ref[i * ldc + j])
                                    worst = d.isNaN ? .infinity : max(worst, d)
                                }
                                // the padding columns of C are never written
                                for j in n..<ldc where beta != 0 { XCTAssertEqual(c[i * ldc + j], ref[i * ldc + j]) }
                            }
                            let tol = Float(1e-5) * Float(max(k, 1)).squareRoot() * 4
                            XCTAssertLessThan(worst, tol, "\(path) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) alpha=\(alpha) beta=\(beta) bias=\(withBias)")
                        }
                    }
                }
            }
        }
    }

    func testColumnSumsOfAComeWithTheProduct() {
        var rng = RNG(seed: 13)
        // (m, n, k): remainders of the 6-row panels, n > 2048 (several column blocks: A packed more than once),
        // k > 1024 (blocked reduction), alpha 0 (nothing packed)
        // alpha 1 with a row-major A: read in place, summed by colsum_rows (m > 144: several row blocks; n > 2048: the
        // sums taken in the first column block only)
        for (m, n, k, alpha) in [(13, 37, 20, Float(1)), (7, 2100, 9, 0.5), (5, 17, 1100, 1), (9, 4, 6, 0),
                                 (151, 20, 30, 1), (7, 2100, 9, 1)] {
            for ta in [false, true] {
                let lda = (ta ? m : k) + 2
                let a = FD.randn((ta ? k : m) * lda, &rng), b = FD.randn(k * n, &rng)
                var c = [Float](repeating: 0, count: m * n)
                Self.onBothPaths { path in
                    let plan = path.plan
                    var sums = [Float](repeating: 0.25, count: k)
                    FastKernels.sgemm(fast: plan.usesFastKernels, transA: ta, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: n,
                                      beta: 0, c: &c, ldc: n, colsumA: &sums)
                    for p in 0..<k {
                        var ref = 0.25
                        for i in 0..<m { ref += Double(ta ? a[p * lda + i] : a[i * lda + p]) }
                        XCTAssertEqual(Double(sums[p]), ref, accuracy: 1e-4, "\(path) m=\(m) n=\(n) k=\(k) ta=\(ta) p=\(p)")
                    }
                }
            }
        }
    }

    /// The bias gradient must not depend on whether A was packed (alpha != 1) or read in place (alpha 1): the
    /// in-place column sums add in the packing's order, bit for bit.
    func testColumnSumsInPlaceEqualPackedBitForBit() {
        guard FastKernels.available else { return }   // the portable path sums in one loop either way
        let plan = ExecutionPlan(fastKernels: true)
        var rng = RNG(seed: 15)
        for (m, k) in [(151, 37), (12, 1030), (5, 8)] {
            let a = FD.randn(m * k, &rng), b = FD.randn(k * 3, &rng)
            var c = [Float](repeating: 0, count: m * 3)
            var sums: [[Float]] = []
            for alpha in [Float(1), 0.5] {
                var s = [Float](repeating: 0.25, count: k)
                FastKernels.sgemm(fast: plan.usesFastKernels, transA: false, transB: false, m: m, n: 3, k: k, alpha: alpha, a: a, lda: k, b: b, ldb: 3,
                                  beta: 0, c: &c, ldc: 3, colsumA: &s)
                sums.append(s)
            }
            let differ = (0..<k).filter { sums[0][$0].bitPattern != sums[1][$0].bitPattern }
            XCTAssert(differ.isEmpty, "m=\(m) k=\(k): \(differ.count) sums differ, first at p=\(differ.first ?? -1)")
        }
    }

    func testGELUEpilogueMatchesGEMMThenLibmGELU() {
        var rng = RNG(seed: 14)
        // partial tiles, blocked k (GELU of the final values only), k = 0, GELU in place (geluOut == c)
        for (m, n, k, beta) in [(13, 37, 20, Float(0)), (7, 21, 1100, 1), (5, 9, 0, 0.5), (12, 32, 48, 0)] {
            for inPlace in [false, true] {
                let a = FD.randn(m * k + 1, &rng), b = FD.randn(n * k + 1, &rng), bias = FD.randn(n, &rng)
                let c0 = FD.randn(m * n, &rng)
                var ref = c0
                FastKernels.sgemmReference(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k,
                                           beta: beta, c: &ref, ldc: n, bias: bias)
                Self.onBothPaths { path in
                    let plan = path.plan
                    var c = c0
                    var g = [Float](repeating: .nan, count: m * n)
                    c.withUnsafeMutableBufferPointer { cp in
                        g.withUnsafeMutableBufferPointer { gp in
                            FastKernels.sgemm(fast: plan.usesFastKernels, transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k,
                                              beta: beta, c: cp.baseAddress!, ldc: n, bias: bias,
                                              geluOut: inPlace ? cp.baseAddress! : gp.baseAddress!)
                        }
                    }
                    let gelu = inPlace ? c : g
                    for i in 0..<(m * n) {
                        if !inPlace { XCTAssertEqual(c[i], ref[i], accuracy: 1e-4, "\(path) C m=\(m) n=\(n) k=\(k)") }
                        XCTAssertEqual(gelu[i], GELU.forwardNaive(ref[i]), accuracy: 1e-4 * max(1, abs(ref[i])),
                                       "\(path) gelu m=\(m) n=\(n) k=\(k) beta=\(beta) inPlace=\(inPlace) i=\(i)")
                    }
                }
            }
        }
    }

    func testProductEpilogueMultipliesTheFinalValuesOnce() {
        var rng = RNG(seed: 15)
        // partial tiles, the direct-A path (alpha 1) and the packed one (alpha 0.5), blocked k (the product taken once,
        // after the last reduction block), k = 0, with the bias and beta, and together with the GELU epilogue (after it)
        for (m, n, k, alpha, beta) in [(13, 37, 20, Float(1), Float(0)), (7, 21, 1100, 1, 1), (5, 9, 0, 1, 0.5),
                                       (12, 32, 48, 0.5, 0), (25, 16, 300, 1, 0)] {
            let a = FD.randn(m * k + 1, &rng), b = FD.randn(k * n + 1, &rng), bias = FD.randn(n, &rng)
            let mul = FD.randn(m * n, &rng), c0 = FD.randn(m * n, &rng)
            var ref = c0
            FastKernels.sgemmReference(transA: false, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: k, b: b,
                                       ldb: n, beta: beta, c: &ref, ldc: n, bias: bias)
            for i in 0..<(m * n) { ref[i] *= mul[i] }
            Self.onBothPaths { path in
                let plan = path.plan
                for withGELU in [false, true] {
                    var c = c0
                    var g = [Float](repeating: .nan, count: m * n)
                    g.withUnsafeMutableBufferPointer { gp in
                        FastKernels.sgemm(fast: plan.usesFastKernels, transA: false, transB: false, m: m, n: n, k: k, alpha: alpha, a: a, lda: k, b: b,
                                          ldb: n, beta: beta, c: &c, ldc: n, bias: bias,
                                          geluOut: withGELU ? gp.baseAddress! : nil, mulC: mul)
                    }
                    for i in 0..<(m * n) {
                        XCTAssertEqual(c[i], ref[i], accuracy: 1e-4 * max(1, abs(ref[i])),
                                       "\(path) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) i=\(i)")
                        if withGELU {
                            XCTAssertEqual(g[i], GELU.forwardNaive(ref[i]), accuracy: 1e-4 * max(1, abs(ref[i])), "\(path) gelu")
                        }
                    }
                }
            }
        }
    }

    func testPrepackedBGivesTheSameProduct() {
        guard FastKernels.available else { return }
        let plan = ExecutionPlan(fastKernels: true)
        var rng = RNG(seed: 16)
        // edge panels, several column blocks (n > 2048), blocked reduction (k > 1024), both layouts of B
        for (m, n, k) in [(7, 37, 20), (13, 2100, 9), (6, 16, 1030), (1, 5, 1)] {
            for tb in [false, true] {
                let ldb = (tb ? k : n) + 3
                let a = FD.randn(m * k, &rng), b = FD.randn((tb ? n : k) * ldb, &rng), bias = FD.randn(n, &rng)
                let packed = UnsafeMutablePointer<Float>.allocate(capacity: FastKernels.packedBSize(k: k, n: n) + 16)
                defer { packed.deallocate() }
                let aligned = UnsafeMutablePointer<Float>(bitPattern: (Int(bitPattern: packed) + 63) & ~63)!
                FastKernels.packB(transB: tb, k: k, n: n, b: b, ldb: ldb, into: aligned)
                var c1 = [Float](repeating: .nan, count: m * n), c2 = c1
                FastKernels.sgemm(fast: plan.usesFastKernels, transA: false, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: ldb,
                                  beta: 0, c: &c1, ldc: n, bias: bias)
                // b itself is not read with packedB: a wrong pointer there must not matter
                FastKernels.sgemm(fast: plan.usesFastKernels, transA: false, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: a, ldb: ldb,
                                  beta: 0, c: &c2, ldc: n, bias: bias, packedB: aligned)
                XCTAssertEqual(c1, c2, "m=\(m) n=\(n) k=\(k) tb=\(tb)")
            }
        }
    }

    func testLinearAndAttentionAgreeOnBothPaths() {
        guard FastKernels.available else { return }
        var rng = RNG(seed: 12)
        let n = 150, c = 40, oc = 56
        let x = FD.randn(n * c, &rng), w = FD.randn(oc * c, &rng, scale: 0.3), b = FD.randn(oc, &rng)
        let dout = FD.randn(n * oc, &rng)
        var outs: [[Float]] = [], dxs: [[Float]] = [], dws: [[Float]] = [], dbs: [[Float]] = []
        Self.onBothPaths { path in
            let plan = path.plan
            var out = [Float](repeating: 0, count: n * oc)
            Linear.forward(out: &out, inp: x, weight: w, bias: b, n: n, c: c, oc: oc, plan: plan)
            var dx = [Float](repeating: 0.5, count: n * c), dw = [Float](repeating: 0, count: oc * c)
            var db = [Float](repeating: 0, count: oc)
            Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, plan: plan)
            outs.append(out); dxs.append(dx); dws.append(dw); dbs.append(db)
            // the bias gradient also without dinp (the fused column sums need the dinp product)
            var db2 = [Float](repeating: 0, count: oc), dw2 = dw
            Linear.backward(dinp: nil, dweight: &dw2, dbias: &db2, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc, plan: plan)
            XCTAssertLessThan(FD.maxAbsDiff(db, db2), 1e-4)
        }
        XCTAssertEqual(outs.count, 2)
        XCTAssertLessThan(FD.maxAbsDiff(outs[0], outs[1]), 1e-4)
        XCTAssertLessThan(FD.maxAbsDiff(dxs[0], dxs[1]), 1e-4)
        XCTAssertLessThan(FD.maxAbsDiff(dws[0], dws[1]), 1e-3)
        XCTAssertLessThan(FD.maxAbsDiff(dbs[0], dbs[1]), 1e-4)
        for j in 0..<oc {   // dbias = column sums of dout
            var ref = 0.0
            for r in 0..<n { ref += Double(dout[r * oc + j]) }
            XCTAssertEqual(Double(dbs[0][j]), ref, accuracy: 1e-3)
        }
        // the fast path is really taken: with fast kernels on, the output is not bit-identical to OpenBLAS's
        // in general, but it must be within float rounding of the reference
        var naive = [Float](repeating: 0, count: n * oc)
        Linear.forwardNaive(out: &naive, inp: x, weight: w, bias: b, n: n, c: c, oc: oc)
        XCTAssertLessThan(FD.maxAbsDiff(outs[0], naive), 1e-4)
    }
}
