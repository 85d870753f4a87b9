import Foundation
import XCTest
@testable import Ldae

/// The AVX-512 GEMMs (CKernels/gemm_avx512.c) against their references, and the bf16 numerics (CKernels/bf16_ref.c).
///
/// Tolerances:
/// - the AVX512-BF16 kernel against the portable bf16 reference (same rounded inputs, fp32 sums in another order):
///   |kernel - ref| <= 1e-5 * S per element, S = the element's scale |alpha| sum_p |bf16(a) bf16(b)| + |bias| + |beta C|
///   (times |mulC| with the product epilogue; + 1e-6 absolute for GELU's approximation); column sums <= 1e-5 sum |a|;
/// - the AVX-512 fp32 kernel against the double-precision reference: the AVX2 kernel's 4e-5 sqrt(k), with the extras;
/// - bf16 against fp32: BF16AccuracyTests.
final class BF16GEMMTests: XCTestCase {
    struct Case { var m, n, k: Int; var ta, tb: Bool; var alpha, beta: Float }

    /// Odd shapes around the 12x32 tile and the blocks (k > 1024: blocked, odd: a half-empty last pair; n > 2048),
    /// every layout, with alpha and beta.
    static var cases: [Case] {
        var out: [Case] = []
        let shapes = [(1, 1, 1), (7, 5, 3), (12, 32, 8), (13, 37, 300), (150, 33, 17), (5, 40, 1031), (25, 2100, 9), (145, 70, 33)]
        for (i, (m, n, k)) in shapes.enumerated() {
            for ta in [false, true] {
                for tb in [false, true] {
                    let ab: [(Float, Float)] = [(1, 0), (0.7, 0.5), (-1.5, 1)]
                    out.append(Case(m: m, n: n, k: k, ta: ta, tb: tb, alpha: ab[(i + (ta ? 1 : 0) + (tb ? 2 : 0)) % 3].0,
                                    beta: ab[(i + (ta ? 1 : 0) + (tb ? 2 : 0)) % 3].1))
                }
            }
        }
        return out
    }

    /// The operands of one case: A, B, C0, bias, mulC (row stride ldc).
    struct Operands { var a, b, c0, bias, mul: [Float]; var lda, ldb, ldc: Int }
    static func operands(_ t: Case, _ rng: inout RNG) -> Operands {
        let lda = (t.ta ? t.m : t.k) + 3, ldb = (t.tb ? t.k : t.n) + 1, ldc = t.n + 2
        return Operands(a: FD.randn((t.ta ? t.k : t.m) * lda + 1, &rng), b: FD.randn((t.tb ? t.n : t.k) * ldb + 1, &rng),
                        c0: FD.randn(t.m * ldc, &rng), bias: FD.randn(t.n, &rng), mul: FD.randn(t.m * ldc, &rng),
                        lda: lda, ldb: ldb, ldc: ldc)
    }

    /// Results of one GEMM call: C, geluOut, colsumA.
    struct Result { var c, g, sums: [Float] }
    typealias Call = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                      UnsafePointer<Float>?) -> Void   // (bias, c, g, sums, mul)

    static func run(_ t: Case, _ o: Operands, product: Bool, _ call: Call) -> Result {
        var c = o.c0, g = [Float](repeating: .nan, count: t.m * o.ldc), s = [Float](repeating: 0.25, count: max(t.k, 1))
        o.bias.withUnsafeBufferPointer { bp in o.mul.withUnsafeBufferPointer { mp in
            call(bp.baseAddress!, &c, &g, &s, product ? mp.baseAddress! : nil)
        } }
        return Result(c: c, g: g, sums: s)
    }

    func testCPUConversionEqualsThePortableRoundingBitForBit() throws {
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16: only the portable rounding runs (testPortableRounding...)") }
        var rng = RNG(seed: 21)
        var x = FD.randn(4000, &rng) + FD.randn(1000, &rng, scale: 1e-30) + FD.randn(1000, &rng, scale: 1e30)
        // ties (low 16 bits 0x8000, even and odd kept bit), denormals, infinities, NaNs, the largest floats, zeros
        for hi: UInt32 in [0x3F80, 0x3F81, 0xBF80, 0xC2F1, 0x7F7F, 0x0080, 0x8001] { x.append(Float(bitPattern: hi << 16 | 0x8000)) }
        x += [Float.infinity, -.infinity, .nan, -Float.nan, Float(bitPattern: 0x7F80_0001), Float.greatestFiniteMagnitude,
              -Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2, 0, -0.0, 1, -1]
        let cpu = BF16.roundByCPU(x)
        for (i, v) in x.enumerated() {
            XCTAssertEqual(cpu[i].bitPattern, BF16.round(v).bitPattern, "x = \(v) (0x\(String(v.bitPattern, radix: 16)))")
        }
    }

    func testPortableRoundingIsNearestEvenWithFlushedDenormals() {
        XCTAssertEqual(BF16.round(1 + 1.0 / 256), 1)                          // tie, kept bit even: down
        XCTAssertEqual(BF16.round(1 + 3.0 / 256), 1 + 4.0 / 256)             // tie, kept bit odd: up
        XCTAssertEqual(BF16.round(1 + 1.0 / 256 + 1.0 / 65536), 1 + 2.0 / 256)  // above the tie: up
        XCTAssertEqual(BF16.round(-3.14159), -3.140625)
        XCTAssertEqual(BF16.round(Float.leastNormalMagnitude / 4).bitPattern, 0)
        XCTAssertEqual(BF16.round(-Float.leastNormalMagnitude / 4).bitPattern, 0x8000_0000)
        XCTAssertEqual(BF16.round(Float.greatestFiniteMagnitude), .infinity)
        XCTAssertEqual(BF16.round(-.infinity), -.infinity)
        XCTAssertTrue(BF16.round(.nan).isNaN)
        XCTAssertTrue(BF16.round(Float(bitPattern: 0x7F80_0001)).isNaN)      // a signalling NaN stays NaN (quiet)
        var rng = RNG(seed: 22)
        for v in FD.randn(1000, &rng) {   // within half a unit of the 8-bit significand, and on the bf16 grid
            let r = BF16.round(v)
            XCTAssertLessThanOrEqual(abs(r - v), abs(v) * Float(pow(2.0, -8.0)) * 1.0001)
            XCTAssertEqual(r.bitPattern & 0xFFFF, 0)
        }
    }

    /// Per-element scale of the rounding error of one reduction: |alpha| sum |bf16(a) bf16(b)| + |bias| + |beta C0|.
    static func scale(_ t: Case, _ o: Operands, i: Int, j: Int, round: Bool) -> Float {
        var s: Float = 0
        for p in 0..<t.k {
            var x = t.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p], y = t.tb ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j]
            if round { x = BF16.round(x); y = BF16.round(y) }
            s += abs(x * y)
        }
        return abs(t.alpha) * s + abs(o.bias[j]) + abs(t.beta * o.c0[i * o.ldc + j])
    }

    func testBF16KernelMatchesThePortableReferenceWithEveryExtra() throws {
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16 (vdpbf16ps): the bf16 kernel cannot run here") }
        var rng = RNG(seed: 23)
        for t in Self.cases {
            let o = Self.operands(t, &rng)
            for (extras, product, prepacked) in [(false, false, false), (true, false, true), (true, true, false)] {
                let got = Self.run(t, o, product: product) { bias, c, g, s, mul in
                    let packed = prepacked ? LDAEModel.allocateAligned(GEMMKernel.bf16.packedBSize(k: t.k, n: t.n)) : nil
                    defer { LDAEModel.deallocateAligned(packed) }
                    if let packed { GEMMKernel.bf16.packB(transB: t.tb, k: t.k, n: t.n, b: o.b, ldb: o.ldb, into: packed) }
                    GEMMKernel.bf16.gemm(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda,
                                         b: prepacked ? o.a : o.b, ldb: o.ldb, beta: t.beta, c: c, ldc: o.ldc,
                                         bias: extras ? bias : nil, colsumA: extras ? s : nil, geluOut: extras ? g : nil, mulC: mul,
                                         packedB: packed.map { UnsafePointer($0) })
                }
                let ref = Self.run(t, o, product: product) { bias, c, g, s, mul in
                    BF16.gemmReference(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda, b: o.b,
                                       ldb: o.ldb, beta: t.beta, c: c, ldc: o.ldc, bias: extras ? bias : nil,
                                       colsumA: extras ? s : nil, geluOut: extras ? g : nil, mulC: mul)
                }
                let what = "m=\(t.m) n=\(t.n) k=\(t.k) ta=\(t.ta) tb=\(t.tb) alpha=\(t.alpha) beta=\(t.beta) extras=\(extras) mulC=\(product) prepacked=\(prepacked)"
                Self.assertClose(t, o, got, ref, extras: extras, product: product, rel: 1e-5, round: true, what)
            }
        }
    }

    func testAVX512FP32KernelMatchesTheReferenceWithEveryExtra() throws {
        guard GEMMKernel.avx512.available else { throw XCTSkip("this CPU has no AVX-512 F/BW/VL: the AVX-512 fp32 kernel cannot run here") }
        var rng = RNG(seed: 24)
        for t in Self.cases {
            let o = Self.operands(t, &rng)
            for (extras, product, prepacked) in [(false, false, false), (true, false, true), (true, true, false)] {
                let got = Self.run(t, o, product: product) { bias, c, g, s, mul in
                    let packed = prepacked ? LDAEModel.allocateAligned(GEMMKernel.avx512.packedBSize(k: t.k, n: t.n)) : nil
                    defer { LDAEModel.deallocateAligned(packed) }
                    if let packed { GEMMKernel.avx512.packB(transB: t.tb, k: t.k, n: t.n, b: o.b, ldb: o.ldb, into: packed) }
                    GEMMKernel.avx512.gemm(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda,
                                           b: prepacked ? o.a : o.b, ldb: o.ldb, beta: t.beta, c: c, ldc: o.ldc,
                                           bias: extras ? bias : nil, colsumA: extras ? s : nil, geluOut: extras ? g : nil, mulC: mul,
                                           packedB: packed.map { UnsafePointer($0) })
                }
                // the fp32 reference: the AVX2 path's double-precision loops, then the product and GELU by hand
                var ref = Self.run(t, o, product: false) { bias, c, _, _, _ in
                    FastKernels.sgemmReference(transA: t.ta, transB: t.tb, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda,
                                               b: o.b, ldb: o.ldb, beta: t.beta, c: c, ldc: o.ldc, bias: extras ? bias : nil)
                }
                for i in 0..<t.m { for j in 0..<t.n {
                    if product { ref.c[i * o.ldc + j] *= o.mul[i * o.ldc + j] }
                    ref.g[i * o.ldc + j] = GELU.forwardNaive(ref.c[i * o.ldc + j])
                } }
                for p in 0..<t.k { for i in 0..<t.m where extras { ref.sums[p] += t.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p] } }
                let what = "m=\(t.m) n=\(t.n) k=\(t.k) ta=\(t.ta) tb=\(t.tb) alpha=\(t.alpha) beta=\(t.beta) extras=\(extras) mulC=\(product) prepacked=\(prepacked)"
                Self.assertClose(t, o, got, ref, extras: extras, product: product, rel: 1e-5, round: false, what)
            }
        }
    }

    /// The AVX-512 kernels' GELU epilogue (16 lanes) takes gelu8's operations lane for lane: the same bits as the
    /// elementwise AVX2 GELU of the stored C.
    func testGELUEpilogueEqualsTheElementwiseGELUBitForBit() throws {
        let kernels = [GEMMKernel.avx512, .bf16].filter(\.available)
        guard !kernels.isEmpty, FastKernels.available else { throw XCTSkip("this CPU has no AVX-512: no AVX-512 GEMM to check") }
        var rng = RNG(seed: 25)
        let m = 37, n = 70, k = 48
        let a = FD.randn(m * k, &rng), b = FD.randn(n * k, &rng, scale: 0.5), bias = FD.randn(n, &rng)
        for g in kernels {
            var c = [Float](repeating: 0, count: m * n), out = c, ref = c
            g.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: &c, ldc: n,
                   bias: bias, geluOut: &out)
            GELU.forward(out: &ref, inp: c, n: m * n, plan: ExecutionPlan(threads: 1))
            XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "\(g)")
        }
    }

    /// got vs ref: C (and GELU, column sums) within rel * the element's scale; the padding columns of C untouched.
    static func assertClose(_ t: Case, _ o: Operands, _ got: Result, _ ref: Result, extras: Bool, product: Bool, rel: Float,
                            round: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        var worst: Float = 0
        for i in 0..<t.m {
            for j in 0..<t.n {
                let e = i * o.ldc + j
                let tol = rel * scale(t, o, i: i, j: j, round: round) * (product ? abs(o.mul[e]) : 1) + 1e-6
                let d = abs(got.c[e] - ref.c[e])
                worst = max(worst, d.isNaN ? .infinity : d / tol)
                if extras {
                    let dg = abs(got.g[e] - ref.g[e])
                    worst = max(worst, dg.isNaN ? .infinity : dg / (1.2 * tol + 1e-6 * abs(ref.c[e])))
                }
            }
            for j in t.n..<o.ldc { XCTAssertEqual(got.c[i * o.ldc + j], o.c0[i * o.ldc + j], "padding written: \(what)", file: file, line: line) }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(what): worst error / tolerance", file: file, line: line)
        guard extras else { return }
        for p in 0..<t.k {
            var s: Float = 0
            for i in 0..<t.m { s += abs(t.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p]) }
            XCTAssertEqual(got.sums[p], ref.sums[p], accuracy: 1e-5 * s + 1e-6, "column sum p=\(p): \(what)", file: file, line: line)
        }
    }
}
