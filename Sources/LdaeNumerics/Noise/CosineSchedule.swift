import Foundation

/// Nichol & Dhariwal 2021: gamma_t^2 = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) pi / 2), s = 0.008, betas
/// clipped at 0.999; sigma_t^2 = 1 - gamma_t^2.
public struct CosineSchedule: NoiseScheduleDefinition {
    public var name: String { "cosine" }
    public var summary: String { "Nichol & Dhariwal's cosine gamma^2, sigma^2 = 1 - gamma^2" }
    public var varianceExploding: Bool { false }

    public func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable {
        let off = 0.008
        func f(_ t: Double) -> Double { let c = cos((t / Double(T) + off) / (1 + off) * Double.pi / 2); return c * c }
        var g2 = [Double](repeating: 1, count: T), prod = 1.0
        for i in 0..<T {
            let beta = min(1 - f(Double(i + 1)) / f(Double(i)), 0.999)
            prod *= 1 - beta
            g2[i] = prod
        }
        return .variancePreserving(gamma2: g2)
    }
}

extension NoiseScheduleKind {
    public static let cosine = NoiseScheduleKind(CosineSchedule())
}
