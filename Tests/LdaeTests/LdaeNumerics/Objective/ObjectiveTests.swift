import Foundation
import XCTest
@testable import Ldae

/// The l-DAE objective: corruption in the latent, the weighted loss and its gradient, and the random numbers
/// `corrupt` draws.
final class ObjectiveTests: XCTestCase {
    func testCorruptProjectsAndAddsLatentNoise() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 1)
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        var c = TrainConfig(); c.latentDim = 5
        let obj = try LDAEObjective(config: c, pca: pca, geometry: g)
        let B = 3, n = B * g.valuesPerImage
        var rng = RNG(seed: 9)
        let x0 = (0..<n).map { _ in Float(rng.uniform() * 2 - 1) }
        var clean = [Float](repeating: 0, count: n), noisy = [Float](repeating: 0, count: n), noise = [Float](repeating: 0, count: n)
        var r = RNG(seed: 1)
        obj.corrupt(x0, batch: B, gammas: [1, 1, 1], sigmas: [0, 0, 0], rng: &r, out: &clean)
        // sigma = 0: the projection onto the top-d subspace, which is idempotent and differs from x0
        var again = [Float](repeating: 0, count: n)
        obj.corrupt(clean, batch: B, gammas: [1, 1, 1], sigmas: [0, 0, 0], rng: &r, out: &again)
        for k in 0..<n { XCTAssertEqual(again[k], clean[k], accuracy: 1e-5) }
        XCTAssertGreaterThan(zip(clean, x0).map { abs($0 - $1) }.max()!, 0.05)
        // noisy = clean + sigma * noise target, noise target lies in the d-subspace (its projection is itself)
        let gam = [1.0, 0.5, 0.8], sig = [0.3, 1.0, 1.4]
        obj.corrupt(x0, batch: B, gammas: gam, sigmas: sig, rng: &r, out: &noisy, noise: &noise)
        obj.corrupt(x0, batch: B, gammas: gam, sigmas: [0, 0, 0], rng: &r, out: &clean)
        for b in 0..<B { for k in (b * n / B)..<((b + 1) * n / B) {
            XCTAssertEqual(noisy[k], clean[k] + Float(sig[b]) * noise[k], accuracy: 1e-4)
        } }
        let meanShift = obj.mean
        let coords = pca.project(noise.enumerated().map { $0.element + meanShift[$0.offset % g.tokenDim] }, count: B * g.tokens, d: g.tokenDim)
        for row in 0..<(B * g.tokens) { for i in c.latentDim..<g.tokenDim { XCTAssertEqual(coords[row * g.tokenDim + i], 0, accuracy: 1e-4) } }
        // d = D: sigma = 0 gives back x0
        c.latentDim = g.tokenDim
        let full = try LDAEObjective(config: c, pca: pca, geometry: g)
        full.corrupt(x0, batch: B, gammas: [1, 1, 1], sigmas: [0, 0, 0], rng: &r, out: &clean)
        for k in 0..<n { XCTAssertEqual(clean[k], x0[k], accuracy: 1e-5) }
    }

    func testPixelCorruptNoiseStatistics() throws {
        var c = TrainConfig(); c.tokenizer = .pixel
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        let obj = try LDAEObjective(config: c, pca: nil, geometry: g)
        let B = 20, n = B * g.valuesPerImage
        let x0 = [Float](repeating: 0.5, count: n)
        var out = [Float](repeating: 0, count: n)
        var rng = RNG(seed: 5)
        obj.corrupt(x0, batch: B, gammas: [Double](repeating: 0.5, count: B), sigmas: [Double](repeating: 2, count: B), rng: &rng, out: &out)
        let m = out.reduce(0.0) { $0 + Double($1) } / Double(n)
        let v = out.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(n)
        XCTAssertEqual(m, 0.25, accuracy: 0.05)
        XCTAssertEqual(v, 4, accuracy: 0.2)
    }

    func testLossValueAndGradientByFiniteDifferences() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 2)
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        for tok in [TokenizerKind.pca, .pixel] {   // the fitted kinds: TokenizerTests
            var c = TrainConfig(); c.latentDim = 4; c.residualWeight = 0.1; c.tokenizer = tok
            let obj = try LDAEObjective(config: c, pca: pca, geometry: g)
            let B = 2, n = B * g.valuesPerImage, D = g.tokenDim
            var rng = RNG(seed: 11)
            let y = (0..<n).map { _ in Float(rng.normal()) }
            var yhat = (0..<n).map { _ in Float(rng.normal()) }
            let sig = [0.5, 1.2]
            var grad = [Float](repeating: 0, count: n)
            let L = obj.loss(prediction: yhat, target: y, batch: B, sigmas: sig, dPrediction: &grad)
            // reference value: naive double loops
            var ref = 0.0
            for b in 0..<B {
                let lam = 1 / (1 + sig[b] * sig[b])
                for t in 0..<g.tokens { for i in 0..<D {
                    var ri = 0.0
                    for j in 0..<D { let k = (b * g.tokens + t) * D + j; ri += Double(obj.basis[i * D + j]) * Double(y[k] - yhat[k]) }
                    ref += lam * Double(obj.weights[i]) * ri * ri
                } }
            }
            ref /= Double(B * g.tokens)
            XCTAssertEqual(L, ref, accuracy: 1e-5 * ref)
            if tok == .pca { XCTAssertEqual(obj.weights.filter { $0 == 1 }.count, 4) }
            // finite differences on every element
            let h: Float = 1e-2
            var maxErr = 0.0
            for k in 0..<n {
                let old = yhat[k]
                yhat[k] = old + h; let lp = obj.loss(prediction: yhat, target: y, batch: B, sigmas: sig, dPrediction: nil)
                yhat[k] = old - h; let lm = obj.loss(prediction: yhat, target: y, batch: B, sigmas: sig, dPrediction: nil)
                yhat[k] = old
                let fd = (lp - lm) / (2 * Double(h))
                maxErr = max(maxErr, abs(fd - Double(grad[k])) / max(1e-3, abs(fd)))
            }
            XCTAssertLessThan(maxErr, 2e-2, tok.rawValue)
            XCTAssertGreaterThan(grad.map { abs($0) }.max()!, 1e-4)
        }
    }

    /// The random-number contract data parallelism relies on: `corrupt` draws `normalsPerImage` normals per image,
    /// image by image, and nothing else; so a rank that takes its slice's levels with `levels(_:of:rng:)` (skipping
    /// the normals of the images before it) corrupts its images exactly as one process corrupts the whole batch. An
    /// odd `normalsPerImage` puts slice boundaries inside a Box-Muller pair.
    func testCorruptDrawsNormalsPerImageInOrderSoEverySliceMatchesTheWholeBatch() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 4)
        let g = PatchGeometry(imageSize: 2, patchSize: 2)   // one token: normalsPerImage = d
        for (tokenizer, scale, d) in [(TokenizerKind.pca, LatentScale.none, 5), (.pca, .whiten, 3), (.pixel, .none, 12)] {
            var c = TrainConfig(); c.tokenizer = tokenizer; c.latentScale = scale; c.latentDim = d; c.batchSize = 6
            let obj = try LDAEObjective(config: c, pca: tokenizer == .pca ? pca : nil, geometry: g)
            let schedule = NoiseSchedule(c), B = c.batchSize, V = g.valuesPerImage, what = "\(tokenizer) \(scale) d \(d)"
            XCTAssertEqual(obj.normalsPerImage, g.tokens * obj.latentDim, what)
            var data = RNG(seed: 2)
            let x0 = (0..<(B * V)).map { _ in Float(data.uniform() * 2 - 1) }
            func corrupt(_ slice: BatchSlice) -> (out: [Float], next: UInt64) {
                var rng = RNG(seed: 7, stream: TrainStep.noiseStream &+ 3)
                let lv = obj.levels(schedule.sample(batch: B, rng: &rng), of: slice, rng: &rng)
                var out = [Float](repeating: 0, count: slice.count * V)
                x0.withUnsafeBufferPointer { obj.corrupt($0.baseAddress! + slice.range.lowerBound * V, batch: slice.count,
                                                         gammas: lv.gammas, sigmas: lv.sigmas, rng: &rng, out: &out) }
                return (out, rng.next())
            }
            let whole = corrupt(.whole(B))
            // the whole batch drew exactly B * normalsPerImage normals after the levels
            var count = RNG(seed: 7, stream: TrainStep.noiseStream &+ 3)
            _ = schedule.sample(batch: B, rng: &count)
            count.skipNormals(B * obj.normalsPerImage)
            XCTAssertEqual(count.next(), whole.next, "\(what): corrupt drew other numbers than normalsPerImage says")
            for ranks in [2, 3, 6] {
                for rank in 0..<ranks {
                    let slice = try BatchSlice(globalBatch: B, ranks: ranks, rank: rank)
                    XCTAssertEqual(corrupt(slice).out, Array(whole.out[(slice.range.lowerBound * V)..<(slice.range.upperBound * V)]),
                                   "\(what): rank \(rank) of \(ranks)")
                }
            }
        }
    }

    func testObjectiveRejectsMismatchedPCA() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 1)
        XCTAssertThrowsError(try LDAEObjective(config: TrainConfig(), pca: pca, geometry: PatchGeometry(imageSize: 8, patchSize: 4))) {
            XCTAssertTrue("\($0)".contains("patch_size"), "\($0)")
        }
        var c = TrainConfig(); c.latentDim = 13
        XCTAssertThrowsError(try LDAEObjective(config: c, pca: pca, geometry: PatchGeometry(imageSize: 4, patchSize: 2)))
        XCTAssertThrowsError(try LDAEObjective(config: TrainConfig(), pca: nil, geometry: PatchGeometry(imageSize: 4, patchSize: 2)))
    }
}
