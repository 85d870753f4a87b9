import Foundation
import XCTest
@testable import Ldae

/// How far bf16 compute is from fp32: the GEMM (the portable reference on every CPU, the AVX512-BF16 kernel where the
/// CPU has it) and a linear layer on a bf16 plan.
///
/// Tolerance: rounding an input to bf16 (8-bit significand, round to nearest even) moves it by at most 2^-8 of itself,
/// so each product is within 2^-7 of the exact one and every element within 2^-7 sum_p |a_p b_p| (+ fp32 slack). The
/// errors are unbiased and independent: an input's relative error has a standard deviation of about 0.43 * 2^-8
/// (half-ulp rounding over a binade), a product's about 0.6 * 2^-8, so the root mean square error of an element is
/// about 0.6 * 2^-8 sqrt(k) rms(A) rms(B). The test holds it to [0.35, 0.9] of 2^-8 sqrt(k) rms(A) rms(B) (a truncating
/// conversion gives about 1.5: its errors all point one way), and the largest error to 4 * 2^-8 sqrt(k) rms(A) rms(B)
/// (about 6.5 standard deviations).
final class BF16AccuracyTests: XCTestCase {
    static let u = Float(pow(2.0, -8.0))

    /// The bf16 GEMMs this CPU runs: the portable reference, and the kernel where the CPU has AVX512-BF16.
    static var bf16Paths: [(String, (Bool, Bool, Int, Int, Int, [Float], Int, [Float], Int, inout [Float]) -> Void)] {
        var paths: [(String, (Bool, Bool, Int, Int, Int, [Float], Int, [Float], Int, inout [Float]) -> Void)] = [
            ("portable reference", { ta, tb, m, n, k, a, lda, b, ldb, c in
                BF16.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c, ldc: n)
            })]
        if GEMMKernel.bf16.available {
            paths.append(("AVX512-BF16 kernel", { ta, tb, m, n, k, a, lda, b, ldb, c in
                GEMMKernel.bf16.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c, ldc: n)
            }))
        }
        return paths
    }

    func testBF16GEMMIsWithinBF16ToleranceOfFP32() {
        var rng = RNG(seed: 31)
        for (m, n, k, ta, tb) in [(64, 96, 192, false, true), (100, 50, 768, false, false), (33, 70, 1031, true, false), (48, 40, 300, true, true)] {
            let lda = ta ? m : k, ldb = tb ? k : n
            let a = FD.randn(m * k, &rng), b = FD.randn(k * n, &rng, scale: 0.5)
            var exact = [Float](repeating: 0, count: m * n)
            FastKernels.sgemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &exact, ldc: n)
            let rmsA = (a.map { Double($0 * $0) }.reduce(0, +) / Double(a.count)).squareRoot()
            let rmsB = (b.map { Double($0 * $0) }.reduce(0, +) / Double(b.count)).squareRoot()
            let stat = Double(Self.u) * Double(k).squareRoot() * rmsA * rmsB   // 2^-8 sqrt(k) rms(A) rms(B)
            for (name, gemm) in Self.bf16Paths {
                var c = [Float](repeating: .nan, count: m * n)
                gemm(ta, tb, m, n, k, a, lda, b, ldb, &c)
                var worst = 0.0, sq = 0.0, boundOK = true
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Float = 0
                        for p in 0..<k { s += abs((ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j])) }
                        let e = Double(abs(c[i * n + j] - exact[i * n + j]))
                        if !(e <= Double(2 * Self.u * s * 1.01 + 1e-5 * s)) { boundOK = false }
                        worst = max(worst, e); sq += e * e
                    }
                }
                let rmsErr = (sq / Double(m * n)).squareRoot()
                let what = "\(name) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb)"
                XCTAssertTrue(boundOK, "\(what): an element is further than 2^-7 sum|ab| from fp32")
                XCTAssertLessThanOrEqual(worst, 4 * stat, "\(what): largest error \(worst), 2^-8 sqrt(k) rms rms = \(stat)")
                XCTAssertGreaterThan(rmsErr, 0.35 * stat, "\(what): rms error \(rmsErr / stat) x 2^-8 sqrt(k) rms rms, too small for bf16 inputs (not rounded?)")
                XCTAssertLessThan(rmsErr, 0.9 * stat, "\(what): rms error \(rmsErr / stat) x 2^-8 sqrt(k) rms rms, too large for round-to-nearest (biased?)")
            }
        }
    }

    func testLinearLayerOnABF16PlanTracksFP32AndKeepsTheBiasGradientFP32() throws {
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16: a bf16 plan cannot take the bf16 kernel here") }
        let bf16 = ExecutionPlan(threads: 2, precision: .bf16), fp32 = ExecutionPlan(threads: 2, precision: .fp32)
        XCTAssertEqual(bf16.gemm, .bf16); XCTAssertEqual(bf16.resolvedPrecision, .bf16)
        XCTAssertNotEqual(fp32.gemm, .bf16); XCTAssertEqual(fp32.resolvedPrecision, .fp32)
        var rng = RNG(seed: 32)
        let n = 150, c = 40, oc = 56
        let x = FD.randn(n * c, &rng), w = FD.randn(oc * c, &rng, scale: 0.3), b = FD.randn(oc, &rng), dout = FD.randn(n * oc, &rng)
        func run(_ plan: ExecutionPlan) -> (out: [Float], dx: [Float], dw: [Float], db: [Float]) {
            var out = [Float](repeating: 0, count: n * oc), dx = [Float](repeating: 0, count: n * c)
            var dw = [Float](repeating: 0, count: oc * c), db = [Float](repeating: 0, count: oc)
            Linear.forward(out: &out, inp: x, weight: w, bias: b, n: n, c: c, oc: oc, plan: plan)
            Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: dout, inp: x, weight: w, n: n, c: c, oc: oc,
                            overwriteDinp: true, plan: plan)
            return (out, dx, dw, db)
        }
        let lo = run(bf16), hi = run(fp32)
        func rms(_ v: [Float]) -> Float { (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot() }
        // each product's largest error: 4 * 2^-8 sqrt(k) rms rms (its reduction length k)
        for (name, got, ref, k, scale) in [("out", lo.out, hi.out, c, rms(x) * rms(w)), ("dinp", lo.dx, hi.dx, oc, rms(dout) * rms(w)),
                                           ("dweight", lo.dw, hi.dw, n, rms(dout) * rms(x))] {
            let worst = FD.maxAbsDiff(got, ref), tol = 4 * Self.u * Float(k).squareRoot() * scale
            XCTAssertLessThanOrEqual(worst, tol, "\(name): bf16 vs fp32")
            XCTAssertGreaterThan(worst, 0, "\(name): bf16 equals fp32 bit for bit (the bf16 kernel was not taken?)")
        }
        // the bias gradient is a reduction of fp32 values: fp32 on both plans
        for j in 0..<oc {
            var s: Float = 0
            for r in 0..<n { s += abs(dout[r * oc + j]) }
            XCTAssertEqual(lo.db[j], hi.db[j], accuracy: 1e-5 * s, "dbias[\(j)]")
        }
    }

    /// Attention on a bf16 plan (its six products on the bf16 GEMM, softmax in fp32) against fp32: the root mean square
    /// difference of the output and of the gradient within 2^-7 of the fp32 values' (measured 2^-8.2 with unit-variance
    /// q, k, v), and not zero.
    func testAttentionOnABF16PlanTracksFP32() throws {
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16: a bf16 plan cannot take the bf16 kernel here") }
        var rng = RNG(seed: 33)
        let b = 3, t = 20, c = 48, heads = 3
        let qkv = FD.randn(b * t * 3 * c, &rng), dout = FD.randn(b * t * c, &rng)
        func run(_ p: Precision) -> (out: [Float], dqkv: [Float]) {
            let plan = ExecutionPlan(threads: 2, precision: p)
            var out = [Float](repeating: 0, count: b * t * c), att = [Float](repeating: 0, count: b * heads * t * t)
            var dq = [Float](repeating: 0, count: b * t * 3 * c)
            Attention.forward(out: &out, att: &att, qkv: qkv, b: b, t: t, c: c, heads: heads, plan: plan)
            Attention.backward(dqkv: &dq, dout: dout, qkv: qkv, att: att, b: b, t: t, c: c, heads: heads, overwrite: true, plan: plan)
            return (out, dq)
        }
        let lo = run(.bf16), hi = run(.fp32)
        func rms(_ v: [Float]) -> Float { (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot() }
        for (name, x, y) in [("out", lo.out, hi.out), ("dqkv", lo.dqkv, hi.dqkv)] {
            let d = rms(zip(x, y).map { $0 - $1 }), scale = rms(y)
            XCTAssertLessThan(d, scale * 2 * Self.u, "\(name): rms difference \(d) of rms \(scale)")
            XCTAssertGreaterThan(d, 0, "\(name): bf16 equals fp32 bit for bit (the bf16 products were not taken?)")
        }
    }
}
