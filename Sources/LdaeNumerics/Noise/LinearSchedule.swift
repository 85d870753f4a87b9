/// gamma_t^2 = 1 - t / T (linear from 1 towards 0), sigma_t^2 = 1 - gamma_t^2.
public struct LinearSchedule: NoiseScheduleDefinition {
    public var name: String { "linear" }
    public var summary: String { "gamma^2 = 1 - t/T, sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        .variancePreserving(gamma2: (0..<T).map { 1 - Double($0 + 1) / Double(T) })
    }
}

extension NoiseScheduleKind {
    public static let linear = NoiseScheduleKind(LinearSchedule())
}
