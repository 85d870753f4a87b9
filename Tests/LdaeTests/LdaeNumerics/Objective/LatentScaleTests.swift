import Foundation
import XCTest
@testable import Ldae

final class LatentScaleTests: XCTestCase {
    /// The noise on latent component i has standard deviation sigma * s_i.
    func testLatentScaleSetsTheNoiseOfEachComponent() throws {
        let pca = try trainTestBasis(patchSize: 2, seed: 5)
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        let d = 6, B = 400, V = g.valuesPerImage, T = g.tokens
        let ev = Array(pca.eigenvalues.prefix(d))
        for kind in LatentScale.allCases {
            var c = TrainConfig(); c.latentDim = d; c.latentScale = kind
            let obj = try LDAEObjective(config: c, pca: pca, geometry: g)
            let x0 = [Float](repeating: 0.1, count: B * V)
            var out = [Float](repeating: 0, count: B * V)
            var rng = RNG(seed: 1)
            obj.corrupt(x0, batch: B, gammas: [Double](repeating: 1, count: B), sigmas: [Double](repeating: 0.5, count: B), rng: &rng, out: &out)
            // latent of the noise: V_d (x - P x0); P x0 is the same for every row, so take deviations from the mean
            let zx = pca.project(out, count: B * T, d: d)
            for i in 0..<d {
                var m = 0.0, q = 0.0
                for n in 0..<(B * T) { m += Double(zx[n * d + i]) }
                m /= Double(B * T)
                for n in 0..<(B * T) { let v = Double(zx[n * d + i]) - m; q += v * v }
                let std = (q / Double(B * T)).squareRoot()
                let want: Double
                switch kind {
                case .none: want = 0.5
                case .whiten: want = 0.5 * Double(ev[i]).squareRoot()
                case .global: want = 0.5 * (ev.map(Double.init).reduce(0, +) / Double(d)).squareRoot()
                }
                XCTAssertEqual(std, want, accuracy: 0.06 * want, "\(kind.rawValue), component \(i)")
            }
        }
    }
}
