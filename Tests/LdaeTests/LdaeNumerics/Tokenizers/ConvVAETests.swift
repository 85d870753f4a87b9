import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The conv VAE tokenizer (Tokenizers/ConvVAE*.swift): its training gradient against finite differences, shapes and
/// determinism, that it learns, and its config checks.
final class ConvVAETests: XCTestCase {
    static let tiny = ConvVAEConfig(imageSize: 8, patchSize: 4, latentDim: 2, width: 4, klWeight: 0.5)

    /// n patchified smooth images [n, T, D] in [-1, 1]: a few random low-frequency waves per channel.
    static func smoothImages(_ n: Int, _ cfg: ConvVAEConfig, seed: UInt64) -> [Float] {
        var rng = RNG(seed: seed)
        let s = cfg.imageSize, geo = cfg.geometry
        var all: [Float] = []
        for _ in 0..<n {
            var img = [Float](repeating: 0, count: s * s * 3)
            for c in 0..<3 {
                let waves = (0..<3).map { _ in (rng.uniform() * 2, rng.uniform() * 2, rng.uniform() * 6.3, rng.uniform() * 0.3) }
                for y in 0..<s { for x in 0..<s {
                    var v = 0.0
                    for (fy, fx, ph, a) in waves { v += a * sin(Double.pi * (fy * Double(y) + fx * Double(x)) / Double(s) + ph) }
                    img[(y * s + x) * 3 + c] = Float(max(-1, min(1, v)))
                } }
            }
            all += geo.patchify(img)
        }
        return all
    }

    func testLossGradientMatchesFiniteDifferences() throws {
        let vae = try ConvVAE(config: Self.tiny, seed: 3)
        let batch = 2, cfg = Self.tiny
        var noise = RNG(seed: 4)
        let x = FD.randn(batch * cfg.tokens * cfg.tokenDim, &noise, scale: 0.5)
        // larger weights than the init so that every layer's gradient is well above the float noise
        for i in 0..<vae.parameterCount { vae.params[i] *= 2 }
        func loss() -> Double {
            var rng = RNG(seed: 99)        // the same eps every evaluation
            let (mse, kl) = vae.lossAndGradient(x, batch: batch, rng: &rng)
            return mse + cfg.klWeight * kl
        }
        _ = loss()
        let analytic = Array(UnsafeBufferPointer(start: vae.grads, count: vae.parameterCount))
        var pick = RNG(seed: 5)
        for t in vae.tensors {
            let idx = (0..<min(6, t.count)).map { _ in t.offset + pick.below(t.count) }
            let eps: Float = 1e-2
            let numeric: [Double] = idx.map { i in
                let old = vae.params[i]
                vae.params[i] = old + eps; let lp = loss()
                vae.params[i] = old - eps; let lm = loss()
                vae.params[i] = old
                return (lp - lm) / Double(2 * eps)
            }
            FD.assertClose(t.name, numeric: numeric, analytic: idx.map { Double(analytic[$0]) }, rtol: 2e-2, atol: 2e-5)
        }
        // the pass zeroes the gradients first: a second pass gives the same gradient
        _ = loss()
        XCTAssertEqual(Array(UnsafeBufferPointer(start: vae.grads, count: vae.parameterCount)), analytic)

        // the returned values are the MSE of decode(mean + exp(lv / 2) eps) and the KL mean, eps in [B, T, d] order
        let nz = batch * cfg.tokens * cfg.latentDim
        var mean = [Float](repeating: 0, count: nz), lv = mean, xHat = x
        vae.encode(x, batch: batch, mean: &mean, logvar: &lv)
        var rng = RNG(seed: 99)
        let z = (0..<nz).map { mean[$0] + exp(0.5 * lv[$0]) * Float(rng.normal()) }
        vae.decode(z, batch: batch, out: &xHat)
        let mse = zip(xHat, x).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)
        let kl = (0..<nz).reduce(0.0) { s, i in s + 0.5 * Double(mean[i] * mean[i] + exp(lv[i]) - 1 - lv[i]) } / Double(nz)
        var same = RNG(seed: 99)
        let got = vae.lossAndGradient(x, batch: batch, rng: &same)
        XCTAssertEqual(got.mse, mse, accuracy: 1e-6 * mse)
        XCTAssertEqual(got.kl, kl, accuracy: 1e-5 * kl)

        // a log-variance clamped at 20 passes no gradient to its raw value
        let head = vae.tensors.first { $0.name == "encoder.conv_out.bias" }!
        for j in 0..<cfg.latentDim { vae.params[head.offset + cfg.latentDim + j] = 100 }
        vae.encode(x, batch: batch, mean: &mean, logvar: &lv)
        XCTAssertEqual(lv, [Float](repeating: 20, count: nz))
        _ = loss()
        for j in 0..<cfg.latentDim {
            XCTAssertEqual(vae.grads[head.offset + j + cfg.latentDim], 0)
            XCTAssertNotEqual(vae.grads[head.offset + j], 0)
        }
    }

    func testEncodeDecodeShapesAndDeterminism() throws {
        let cfg = ConvVAEConfig(imageSize: 16, patchSize: 4, latentDim: 3, width: 4)
        let a = try ConvVAE(config: cfg, seed: 7), b = try ConvVAE(config: cfg, seed: 7), c = try ConvVAE(config: cfg, seed: 8)
        // the tensors tile the parameters in order
        var off = 0
        for t in a.tensors { XCTAssertEqual(t.offset, off); XCTAssertEqual(t.count, t.shape.reduce(1, *)); off += t.count }
        XCTAssertEqual(off, a.parameterCount)
        XCTAssertEqual(a.tensors.count, 2 * (4 + 2 * cfg.stages))
        let pa = Array(UnsafeBufferPointer(start: a.params, count: a.parameterCount))
        XCTAssertEqual(pa, Array(UnsafeBufferPointer(start: b.params, count: b.parameterCount)))
        XCTAssertNotEqual(pa, Array(UnsafeBufferPointer(start: c.params, count: c.parameterCount)))

        let nx = cfg.tokens * cfg.tokenDim, nz = cfg.tokens * cfg.latentDim, pad = 5
        let x = Self.smoothImages(3, cfg, seed: 1)
        // outputs written exactly [B, T, d] / [B, T, D]: the values past the end stay untouched
        func encode(_ m: ConvVAE, _ batch: Int) -> ([Float], [Float]) {
            var mean = [Float](repeating: 77, count: batch * nz + pad), lv = mean
            m.encode(x, batch: batch, mean: &mean, logvar: &lv)
            XCTAssertEqual(Array(mean.suffix(pad)), [Float](repeating: 77, count: pad))
            XCTAssertEqual(Array(lv.suffix(pad)), [Float](repeating: 77, count: pad))
            XCTAssertFalse(mean.prefix(batch * nz).contains(77))
            return (Array(mean.prefix(batch * nz)), Array(lv.prefix(batch * nz)))
        }
        let (m3, lv3) = encode(a, 3)
        XCTAssertEqual(encode(b, 3).0, m3)
        XCTAssertNotEqual(encode(c, 3).0, m3)
        XCTAssert(lv3.allSatisfy { $0 >= -30 && $0 <= 20 })
        // one image alone (buffers reused at a smaller batch) encodes the same
        XCTAssertLessThan(FD.maxAbsDiff(encode(a, 1).0, Array(m3.prefix(nz))), 1e-6)
        var out = [Float](repeating: 77, count: 3 * nx + pad)
        a.decode(m3, batch: 3, out: &out)
        XCTAssertEqual(Array(out.suffix(pad)), [Float](repeating: 77, count: pad))
        var out1 = [Float](repeating: 0, count: nx)
        a.decode(Array(m3.suffix(nz)), batch: 1, out: &out1)
        XCTAssertLessThan(FD.maxAbsDiff(out1, Array(out[(2 * nx)..<(3 * nx)])), 1e-6)

        // the pointer patchify pair is PatchGeometry's
        let img = (0..<(16 * 16 * 3)).map { Float($0) }
        var nhwc = [Float](repeating: 0, count: img.count), back = nhwc
        a.unpatchify(cfg.geometry.patchify(img), into: &nhwc, batch: 1)
        XCTAssertEqual(nhwc, img)
        a.patchify(img, into: &back, batch: 1)
        XCTAssertEqual(back, cfg.geometry.patchify(img))
    }

    func testAdamStepsHalveReconstructionError() throws {
        let cfg = ConvVAEConfig(imageSize: 8, patchSize: 4, latentDim: 8, width: 8)
        let vae = try ConvVAE(config: cfg, seed: 1)
        let n = 64, x = Self.smoothImages(n, cfg, seed: 2)
        func reconstructionMSE() -> Double {
            var mean = [Float](repeating: 0, count: n * cfg.tokens * cfg.latentDim), lv = mean
            var out = [Float](repeating: 0, count: x.count)
            vae.encode(x, batch: n, mean: &mean, logvar: &lv)
            vae.decode(mean, batch: n, out: &out)
            return zip(out, x).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)
        }
        let start = reconstructionMSE()
        var m = [Float](repeating: 0, count: vae.parameterCount), v = m
        let (lr, b1, b2): (Float, Float, Float) = (2e-3, 0.9, 0.999)
        var rng = RNG(seed: 3)
        var first = 0.0, last = 0.0
        for step in 1...200 {
            let (mse, kl) = vae.lossAndGradient(x, batch: n, rng: &rng)
            XCTAssert(mse.isFinite && kl.isFinite && kl >= 0)
            if step == 1 { first = mse }
            last = mse
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            for i in 0..<vae.parameterCount {
                let gr = vae.grads[i]
                m[i] = b1 * m[i] + (1 - b1) * gr
                v[i] = b2 * v[i] + (1 - b2) * gr * gr
                vae.params[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8)
            }
        }
        let end = reconstructionMSE()
        XCTAssertLessThan(end, 0.5 * start, "reconstruction MSE \(start) -> \(end)")
        XCTAssertLessThan(last, 0.5 * first, "training-pass MSE \(first) -> \(last)")
    }

    func testInvalidConfigsThrowNamingTheValue() throws {
        func message(_ cfg: ConvVAEConfig) -> String {
            do { _ = try ConvVAE(config: cfg, seed: 0); return "" } catch { return "\(error)" }
        }
        XCTAssert(message(ConvVAEConfig(imageSize: 12, patchSize: 3, latentDim: 4)).contains("patch_size 3"))
        XCTAssert(message(ConvVAEConfig(imageSize: 32, patchSize: 1, latentDim: 4)).contains("patch_size 1"))
        XCTAssert(message(ConvVAEConfig(imageSize: 32, patchSize: 4, latentDim: 0)).contains("latent_dim 0"))
        XCTAssert(message(ConvVAEConfig(imageSize: 30, patchSize: 4, latentDim: 4)).contains("image_size 30"))
        XCTAssert(message(ConvVAEConfig(imageSize: 32, patchSize: 4, latentDim: 4, width: 0)).contains("width 0"))
        XCTAssert(message(ConvVAEConfig(imageSize: 32, patchSize: 4, latentDim: 4, klWeight: -1)).contains("kl_weight"))
        XCTAssertEqual(message(ConvVAEConfig(imageSize: 32, patchSize: 16, latentDim: 4)), "")

        // snake_case JSON; channels, width and kl_weight may be left out
        let cfg = ConvVAEConfig(imageSize: 32, patchSize: 4, latentDim: 16, width: 24, klWeight: 1e-3)
        let text = String(decoding: try JSON.encode(cfg), as: UTF8.self)
        for key in ["\"image_size\"", "\"patch_size\"", "\"latent_dim\"", "\"kl_weight\"", "\"width\"", "\"channels\""] {
            XCTAssert(text.contains(key), text)
        }
        XCTAssertEqual(try JSON.decode(ConvVAEConfig.self, from: Data(text.utf8), file: "c.json"), cfg)
        let short = try JSON.decode(ConvVAEConfig.self, from: Data(#"{"image_size": 32, "patch_size": 8, "latent_dim": 4}"#.utf8), file: "c.json")
        XCTAssertEqual(short, ConvVAEConfig(imageSize: 32, patchSize: 8, latentDim: 4))
    }
}
