/// The l-DAE paper's final recipe: gamma = 1, sigma_t = sigma_max (t - 1) / (T - 1), from 0 at t = 1 to
/// `sigma_max` (the paper's sqrt(2)) at t = T.
public struct LDAESchedule: NoiseScheduleDefinition {
    public var name: String { "ldae" }
    public var summary: String { "gamma = 1, sigma linear 0..--sigma-max (the paper's)" }
    public var varianceExploding: Bool { true }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        let sigmaMax = config.sigmaMax
        return .varianceExploding(sigma: (0..<T).map { T > 1 ? sigmaMax * Double($0) / Double(T - 1) : sigmaMax })
    }
}

extension NoiseScheduleKind {
    public static let ldae = NoiseScheduleKind(LDAESchedule())
}
