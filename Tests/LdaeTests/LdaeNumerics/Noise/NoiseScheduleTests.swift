import Foundation
import XCTest
@testable import Ldae

final class SigmaMaxTests: XCTestCase {
    func testSigmaMaxSetsTheEndOfTheLDAESchedule() {
        var c = TrainConfig(); c.sigmaMax = 0.5
        let s = NoiseSchedule(c)
        XCTAssertEqual(s.gammaSigma(c.timesteps).sigma, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.gammaSigma(1).sigma, 0)
        XCTAssertEqual(s.gammaSigma(500).sigma, 0.5 * 499 / 999, accuracy: 1e-12)
    }
}

/// The schedules' tables and the per-image noise levels drawn from them.
final class NoiseScheduleTests: XCTestCase {
    func testScheduleEndpoints() {
        var c = TrainConfig()
        c.schedule = .ldae
        let l = NoiseSchedule(c)
        XCTAssertEqual(l.gammaSigma(1000).sigma, 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(l.gammaSigma(1).sigma, 0, accuracy: 1e-12)
        XCTAssertEqual(l.gammaSigma(500).gamma, 1)
        XCTAssertEqual(l.gammaSigma(501).sigma - l.gammaSigma(500).sigma, 2.0.squareRoot() / 999, accuracy: 1e-12)

        for kind in [NoiseScheduleKind.ddpm, .linear, .cosine] {
            c.schedule = kind
            let s = NoiseSchedule(c)
            var prev = 2.0
            for t in 1...1000 {
                let (g, sg) = s.gammaSigma(t)
                XCTAssertLessThan(g * g, prev, "\(kind.rawValue) gamma^2 must decrease at t=\(t)")
                XCTAssertEqual(g * g + sg * sg, 1, accuracy: 1e-9, kind.rawValue)
                prev = g * g
            }
            XCTAssertGreaterThan(s.gammaSigma(1).gamma, 0.99, kind.rawValue)
            XCTAssertLessThan(s.gammaSigma(1000).gamma, 0.01, kind.rawValue)
        }
        c.schedule = .ddpm
        let d = NoiseSchedule(c)
        XCTAssertEqual(d.gammaSigma(1).gamma * d.gammaSigma(1).gamma, 1 - 1e-4, accuracy: 1e-12)
        // alphabar_T of DiT's linear-beta schedule is about 4.04e-5
        XCTAssertEqual(d.gammaSigma(1000).gamma * d.gammaSigma(1000).gamma, 4.04e-5, accuracy: 0.1e-5)
        c.schedule = .linear
        XCTAssertEqual(NoiseSchedule(c).gammaSigma(250).gamma, 0.75.squareRoot(), accuracy: 1e-12)
    }

    func testSampleMultiSingleAndInputScaling() {
        var c = TrainConfig()
        var rng = RNG(seed: 3)
        let s = NoiseSchedule(c).sample(batch: 4000, rng: &rng)
        XCTAssertEqual(s.gammas, [Double](repeating: 1, count: 4000))
        XCTAssertEqual(Double(s.t.reduce(0, +)) / 4000, 500.5, accuracy: 15)
        XCTAssertEqual(s.sigmas.max()!, 2.0.squareRoot(), accuracy: 0.01)
        c.noiseLevels = .single
        let one = NoiseSchedule(c).sample(batch: 3, rng: &rng)
        XCTAssertEqual(one.sigmas, [1.0 / 3, 1.0 / 3, 1.0 / 3])
        XCTAssertEqual(one.gammas, [1, 1, 1])
        c.noiseLevels = .multi; c.schedule = .ddpm; c.inputScaling = true
        var r2 = RNG(seed: 4)
        let vp = NoiseSchedule(c).sample(batch: 50, rng: &r2)
        for b in 0..<50 { XCTAssertEqual(vp.gammas[b] * vp.gammas[b] + vp.sigmas[b] * vp.sigmas[b], 1, accuracy: 1e-9) }
        c.inputScaling = false
        var r3 = RNG(seed: 4)
        let vn = NoiseSchedule(c).sample(batch: 50, rng: &r3)
        XCTAssertEqual(vn.gammas, [Double](repeating: 1, count: 50))
        XCTAssertEqual(vn.sigmas, vp.sigmas)
    }
}
