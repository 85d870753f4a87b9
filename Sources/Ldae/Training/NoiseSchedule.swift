import Foundation

/// The noise schedules. A schedule gives, for t in 1...T, the pair (gamma_t, sigma_t) of z_t = gamma_t z0 + sigma_t eps.
/// Each kind is one branch of `table` (as DiT's get_named_beta_schedule); adding a schedule is a case and its branch.
public enum NoiseScheduleKind: String, MethodOption {
    /// gamma = 1, sigma_t = sigma_max (t - 1) / (T - 1): 0 at t = 1, sigma_max (the paper's sqrt(2)) at t = T.
    /// The l-DAE paper's final recipe.
    case ldae
    /// beta linear 1e-4 .. 0.02 over t = 1..T (DDPM, DiT), gamma_t^2 = prod_{s<=t} (1 - beta_s), sigma^2 = 1 - gamma^2.
    case ddpm
    /// gamma_t^2 = 1 - t / T (linear from 1 towards 0), sigma^2 = 1 - gamma^2.
    case linear
    /// Nichol & Dhariwal 2021: gamma_t^2 = f(t)/f(0), f(t) = cos^2(((t/T) + s)/(1 + s) pi/2), s = 0.008, betas clipped
    /// at 0.999, sigma^2 = 1 - gamma^2.
    case cosine

    /// (gamma_t^2, sigma_t) for t = 1...T at index t - 1.
    func table(timesteps T: Int, sigmaMax: Double) -> (gamma2: [Double], sigma: [Double]) {
        var g2 = [Double](repeating: 1, count: T)
        switch self {
        case .ldae:
            let s = (0..<T).map { T > 1 ? sigmaMax * Double($0) / Double(T - 1) : sigmaMax }
            return (g2, s)
        case .ddpm:
            var prod = 1.0
            for i in 0..<T {
                let beta = T > 1 ? 1e-4 + (0.02 - 1e-4) * Double(i) / Double(T - 1) : 0.02
                prod *= 1 - beta
                g2[i] = prod
            }
        case .linear:
            for i in 0..<T { g2[i] = 1 - Double(i + 1) / Double(T) }
        case .cosine:
            let off = 0.008
            func f(_ t: Double) -> Double { let c = cos((t / Double(T) + off) / (1 + off) * Double.pi / 2); return c * c }
            var prod = 1.0
            for i in 0..<T {
                let beta = min(1 - f(Double(i + 1)) / f(Double(i)), 0.999)
                prod *= 1 - beta
                g2[i] = prod
            }
        }
        return (g2, g2.map { max(0, 1 - $0).squareRoot() })   // variance preserving
    }

    /// Whether gamma_t = 1 for every t (then input scaling changes nothing).
    var varianceExploding: Bool { self == .ldae }
}

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
    /// gamma_t^2 for t = 1...T at index t - 1 (all 1 for ldae).
    private let gamma2: [Double]
    /// sigma_t for t = 1...T at index t - 1.
    private let sigmas: [Double]

    public init(_ config: TrainConfig) {
        kind = config.schedule
        timesteps = max(1, config.timesteps)
        noiseLevels = config.noiseLevels
        singleSigma = config.singleSigma
        inputScaling = config.inputScaling
        (gamma2, sigmas) = kind.table(timesteps: timesteps, sigmaMax: config.sigmaMax)
    }

    /// The schedule's (gamma_t, sigma_t), t in 1...timesteps.
    public func gammaSigma(_ t: Int) -> (gamma: Double, sigma: Double) {
        precondition(t >= 1 && t <= timesteps, "timestep \(t) outside 1...\(timesteps)")
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
