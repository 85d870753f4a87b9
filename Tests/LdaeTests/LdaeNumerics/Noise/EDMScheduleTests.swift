import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The edm schedule: log-normal sigma (P_mean -1.2, P_std 1.2) discretised by quantiles.
final class EDMScheduleTests: XCTestCase {
    func testNormalQuantileInvertsTheNormalCDF() {
        XCTAssertEqual(EDMSchedule.normalQuantile(0.5), 0, accuracy: 1e-15)
        XCTAssertEqual(EDMSchedule.normalQuantile(0.975), 1.959963984540054, accuracy: 1e-12)
        XCTAssertEqual(EDMSchedule.normalQuantile(0.8413447460685429), 1, accuracy: 1e-12)
        XCTAssertEqual(EDMSchedule.normalQuantile(1e-6), -4.753424308822899, accuracy: 1e-9)   // the lower tail branch
        for p in stride(from: 0.0005, to: 1, by: 0.001) {
            let x = EDMSchedule.normalQuantile(p)
            XCTAssertEqual(0.5 * erfc(-x / 2.0.squareRoot()), p, accuracy: 1e-13, "Phi(Phi^-1(\(p)))")
            XCTAssertEqual(EDMSchedule.normalQuantile(1 - p), -x, accuracy: 1e-9, "symmetry at \(p)")
        }
    }

    func testTheTableIsLogNormalIncreasingAndVarianceExploding() {
        var c = TrainConfig(); c.schedule = .edm
        let s = NoiseSchedule(c), T = c.timesteps
        let ln = (1...T).map { log(s.gammaSigma($0).sigma) }
        let mean = ln.reduce(0, +) / Double(T)
        let std = (ln.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(T)).squareRoot()
        // quantiles are symmetric about the median, so the mean is P_mean up to rounding; the T midpoint quantiles
        // leave out the extreme tails, so the std is a little below P_std (0.99935 P_std at T = 1000)
        XCTAssertEqual(mean, -1.2, accuracy: 1e-9)
        XCTAssertEqual(std, 1.2, accuracy: 0.002)
        XCTAssertLessThan(std, 1.2)
        // the share of the table at or below P_mean + P_std is Phi(1)
        XCTAssertEqual(Double(ln.filter { $0 <= -1.2 + 1.2 }.count) / Double(T), 0.8413, accuracy: 0.001)
        XCTAssertEqual(s.gammaSigma(1).sigma, exp(-1.2 + 1.2 * EDMSchedule.normalQuantile(0.5 / 1000)), accuracy: 1e-15)
        XCTAssertEqual(s.gammaSigma(1).sigma, 0.0058073, accuracy: 1e-6)
        XCTAssertEqual(s.gammaSigma(T).sigma, 15.62125, accuracy: 1e-4)
        for t in 2...T { XCTAssertGreaterThan(ln[t - 1], ln[t - 2], "sigma must increase at t = \(t)") }
        for t in [1, 500, T] { XCTAssertEqual(s.gammaSigma(t).gamma, 1) }
        XCTAssertTrue(NoiseScheduleKind.edm.varianceExploding)
        // input scaling changes nothing for a variance-exploding schedule, at one level or many
        c.inputScaling = true
        var rng = RNG(seed: 1)
        XCTAssertEqual(NoiseSchedule(c).sample(batch: 20, rng: &rng).gammas, [Double](repeating: 1, count: 20))
        c.noiseLevels = .single
        XCTAssertEqual(NoiseSchedule(c).sample(batch: 3, rng: &rng).gammas, [1, 1, 1])
    }

    func testTrainingDrawsLogNormalNoiseLevels() {
        var c = TrainConfig(); c.schedule = .edm
        var rng = RNG(seed: 7)
        let n = 20_000
        let ln = NoiseSchedule(c).sample(batch: n, rng: &rng).sigmas.map { log($0) }
        let mean = ln.reduce(0, +) / Double(n)
        let std = (ln.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
        // standard errors 1.2 / sqrt(n) = 0.0085 for the mean and about 0.006 for the std: 4 of them
        XCTAssertEqual(mean, -1.2, accuracy: 0.034)
        XCTAssertEqual(std, 1.2, accuracy: 0.024)
    }

    func testOtherParametersShiftTheTableAndBadOnesAreRefused() throws {
        let e = try EDMSchedule(pMean: 0.5, pStd: 2)
        let ln = e.table(timesteps: 101, config: TrainConfig()).sigma.map { log($0) }
        XCTAssertEqual(ln[50], 0.5, accuracy: 1e-12)   // the median quantile
        XCTAssertEqual(ln.reduce(0, +) / 101, 0.5, accuracy: 1e-9)
        for (m, s) in [(0.0, 0.0), (0.0, -1.0), (Double.nan, 1.0), (0.0, Double.infinity), (-Double.infinity, 1.0)] {
            XCTAssertThrowsError(try EDMSchedule(pMean: m, pStd: s), "P_mean \(m), P_std \(s)") {
                XCTAssertTrue("\($0)".contains("edm schedule"), "\($0)")
            }
        }
    }

    /// The samplers walk the edm table like any other: DDIM inversion and regeneration with the exact denoiser for
    /// Gaussian data, as `SamplingTests.testDDIMInversionRoundTripWithExactDenoiser` does for the other schedules.
    func testDDIMInversionRoundTripOnTheEDMTable() throws {
        for (pca, noise) in [(true, false), (false, true)] {
            let s = try makeSampler(["schedule": "edm"], pca: pca, noise: noise)
            for (steps, tol) in [(50, 0.12), (1000, 0.01)] {
                XCTAssertLessThan(try GaussianRoundTrip.run(s, steps: steps).rel, tol, "pca \(pca) noise \(noise), \(steps) steps")
            }
        }
    }
}
