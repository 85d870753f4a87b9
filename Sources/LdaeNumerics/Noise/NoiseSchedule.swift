import Foundation

/// A schedule with the run's noise-level choice. What the encoder gets is decided by `sample`: multi-level noise
/// draws t uniformly per image; single-level uses sigma = `single_sigma`. Without input scaling (the default, the
/// paper's "gamma = 1" step) the corruption is z0 + sigma_t eps for every schedule; `input_scaling` keeps the
/// schedule's gamma_t (z = gamma_t z0 + sigma_t eps, DDPM's variance-preserving form).
public struct NoiseSchedule: Sendable {
    public let kind: NoiseScheduleKind
    public let timesteps: Int
    public let noiseLevels: NoiseLevels
    public let singleSigma: Double
    public let inputScaling: Bool
    /// gamma_t^2 for t = 1...T at index t - 1 (all 1 for the variance-exploding schedules).
    private let gamma2: [Double]
    /// sigma_t for t = 1...T at index t - 1.
    private let sigmas: [Double]

    public init(_ config: TrainConfig) {
        kind = config.schedule
        timesteps = max(1, config.timesteps)
        noiseLevels = config.noiseLevels
        singleSigma = config.singleSigma
        inputScaling = config.inputScaling
        let table = kind.definition.table(timesteps: timesteps, config: config)
        gamma2 = table.gamma2
        sigmas = table.sigma
    }

    /// The schedule's (gamma_t, sigma_t), t in 1...timesteps.
    public func gammaSigma(_ t: Int) -> (gamma: Double, sigma: Double) {
        require(t >= 1 && t <= timesteps, "timestep \(t) outside 1...\(timesteps)")
        return (gamma2[t - 1].squareRoot(), sigmas[t - 1])
    }

    /// The timestep whose sigma is nearest to `sigma` (for single-level noise; used for time conditioning).
    public func nearestTimestep(sigma: Double) -> Int {
        var best = 1, bestD = Double.infinity
        for t in 1...timesteps {
            let d = abs(sigmas[t - 1] - sigma)
            if d < bestD { bestD = d; best = t }
        }
        return best
    }

    /// Per-image noise levels for one batch: t [B] in 1...T, and the gammas/sigmas the corruption uses.
    public func sample(batch: Int, rng: inout RNG) -> (t: [Int], gammas: [Double], sigmas: [Double]) {
        var ts = [Int](repeating: 0, count: batch)
        var gs = [Double](repeating: 1, count: batch)
        var ss = [Double](repeating: 0, count: batch)
        switch noiseLevels {
        case .single:
            let t = nearestTimestep(sigma: singleSigma)
            let g = inputScaling && !kind.varianceExploding ? max(0, 1 - singleSigma * singleSigma).squareRoot() : 1
            for b in 0..<batch { ts[b] = t; gs[b] = g; ss[b] = singleSigma }
        case .multi:
            for b in 0..<batch {
                let t = 1 + rng.below(timesteps)
                let (g, s) = gammaSigma(t)
                ts[b] = t; gs[b] = inputScaling ? g : 1; ss[b] = s
            }
        }
        return (ts, gs, ss)
    }
}
