/// DDPM's (and DiT's) linear betas: beta_t linear from 1e-4 to 0.02 over t = 1..T, gamma_t^2 = prod_{s<=t} (1 - beta_s),
/// sigma_t^2 = 1 - gamma_t^2.
public struct DDPMSchedule: NoiseScheduleDefinition {
    public var name: String { "ddpm" }
    public var summary: String { "beta linear 1e-4..0.02 (DDPM, DiT), sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        var g2 = [Double](repeating: 1, count: T), prod = 1.0
        for i in 0..<T {
            let beta = T > 1 ? 1e-4 + (0.02 - 1e-4) * Double(i) / Double(T - 1) : 0.02
            prod *= 1 - beta
            g2[i] = prod
        }
        return .variancePreserving(gamma2: g2)
    }
}

extension NoiseScheduleKind {
    public static let ddpm = NoiseScheduleKind(DDPMSchedule())
}
