import Foundation

extension NoiseScheduleKind {
    /// Every schedule, in the order `--help` and the docs list them. A new schedule is its type below, its line here
    /// and its static member.
    static let registry: [any NoiseScheduleDefinition] = [
        LDAESchedule(),
        DDPMSchedule(),
        LinearSchedule(),
        CosineSchedule(),
        EDMSchedule(),
    ]

    public static let ldae = NoiseScheduleKind(LDAESchedule())
    public static let ddpm = NoiseScheduleKind(DDPMSchedule())
    public static let linear = NoiseScheduleKind(LinearSchedule())
    public static let cosine = NoiseScheduleKind(CosineSchedule())
    public static let edm = NoiseScheduleKind(EDMSchedule())
}

/// The l-DAE paper's final recipe: gamma = 1, sigma_t = sigma_max (t - 1) / (T - 1), from 0 at t = 1 to
/// `sigma_max` (the paper's sqrt(2)) at t = T.
public struct LDAESchedule: NoiseScheduleDefinition {
    public var name: String { "ldae" }
    public var summary: String { "gamma = 1, sigma linear 0..--sigma-max (the paper's)" }
    public var varianceExploding: Bool { true }
    public var reads: Set<String> { ["sigma_max"] }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        let sigmaMax = config.sigmaMax
        return .varianceExploding(sigma: (0..<T).map { T > 1 ? sigmaMax * Double($0) / Double(T - 1) : sigmaMax })
    }
}

/// DDPM's (and DiT's) linear betas: beta_t linear from 1e-4 to 0.02 over t = 1..T, gamma_t^2 = prod_{s<=t} (1 - beta_s),
/// sigma_t^2 = 1 - gamma_t^2.
public struct DDPMSchedule: NoiseScheduleDefinition {
    public var name: String { "ddpm" }
    public var summary: String { "beta linear 1e-4..0.02 (DDPM, DiT), sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        .betas(T) { i in T > 1 ? 1e-4 + (0.02 - 1e-4) * Double(i) / Double(T - 1) : 0.02 }
    }
}

/// gamma_t^2 = 1 - t / T (linear from 1 towards 0), sigma_t^2 = 1 - gamma_t^2.
public struct LinearSchedule: NoiseScheduleDefinition {
    public var name: String { "linear" }
    public var summary: String { "gamma^2 = 1 - t/T, sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        .variancePreserving(gamma2: (0..<T).map { 1 - Double($0 + 1) / Double(T) })
    }
}

/// Nichol & Dhariwal 2021: gamma_t^2 = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) pi / 2), s = 0.008, betas
/// clipped at 0.999; sigma_t^2 = 1 - gamma_t^2.
public struct CosineSchedule: NoiseScheduleDefinition {
    public var name: String { "cosine" }
    public var summary: String { "Nichol & Dhariwal's cosine gamma^2, sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        let off = 0.008
        func f(_ t: Double) -> Double { let c = cos((t / Double(T) + off) / (1 + off) * Double.pi / 2); return c * c }
        return .betas(T) { i in min(1 - f(Double(i + 1)) / f(Double(i)), 0.999) }
    }
}

/// EDM's training noise levels (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
/// Models", section 5): ln sigma ~ N(P_mean, P_std^2) with P_mean = -1.2, P_std = 1.2, gamma = 1.
///
/// The trainer draws a timestep t uniformly from a table, so the log-normal is discretised by its quantiles:
///   sigma_t = exp(P_mean + P_std * Phi^-1((t - 0.5) / T)),  t = 1...T
/// (index i = t - 1 takes the quantile (i + 0.5) / T). Uniform t then gives log-normal sigma, and sigma increases with
/// t, which the samplers need. For T = 1000, sigma runs from about 0.0058 to 15.6.
///
/// Only the noise-level distribution is EDM's: the network sees z0 + sigma eps as with every schedule here (no
/// c_in/c_skip/c_out preconditioning), and the loss weight is the trainer's lambda_t.
public struct EDMSchedule: NoiseScheduleDefinition {
    public let pMean: Double
    public let pStd: Double

    /// EDM's values, P_mean = -1.2 and P_std = 1.2.
    public init() { pMean = -1.2; pStd = 1.2 }

    /// Other parameters: both finite, P_std > 0.
    public init(pMean: Double, pStd: Double) throws {
        guard pMean.isFinite, pStd.isFinite, pStd > 0 else {
            throw LdaeError("edm schedule: P_mean must be finite and P_std finite and > 0, got P_mean \(pMean), P_std \(pStd)")
        }
        self.pMean = pMean; self.pStd = pStd
    }

    public var name: String { "edm" }
    public var summary: String { "gamma = 1, ln sigma ~ N(-1.2, 1.2^2) by quantiles (EDM, Karras et al. 2022)" }
    public var varianceExploding: Bool { true }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        .varianceExploding(sigma: (0..<T).map { exp(pMean + pStd * Self.normalQuantile((Double($0) + 0.5) / Double(T))) })
    }

    /// Phi^-1(p) for p in (0, 1): Acklam's rational approximation (relative error 1.2e-9), then one Halley step on
    /// Phi(x) - p with Phi from erfc, which brings it to double precision.
    static func normalQuantile(_ p: Double) -> Double {
        require(p > 0 && p < 1, "normal quantile of \(p)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        func tail(_ q: Double) -> Double {
            (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let low = 0.02425
        var x: Double
        if p < low {
            x = tail((-2 * log(p)).squareRoot())
        } else if p > 1 - low {
            x = -tail((-2 * log(1 - p)).squareRoot())
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}

