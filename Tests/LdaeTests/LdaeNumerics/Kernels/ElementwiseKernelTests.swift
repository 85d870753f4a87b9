import Foundation
import XCTest
@testable import Ldae

/// Positional embeddings (sin-cos, add), mean pooling, residuals and adaLN against finite differences and MAE.
final class ElementwiseKernelTests: XCTestCase {
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
