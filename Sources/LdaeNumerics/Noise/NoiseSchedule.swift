import Foundation

/// One noise schedule: for t in 1...T the pair (gamma_t, sigma_t) of z_t = gamma_t z0 + sigma_t eps.
///
/// The schedules are Schedules.swift, each with its line in the registry at its top: adding one is that file and a
/// test. The JSON word, the command line's choices, its usage and docs text and its error messages all come from
/// the registry.
public protocol NoiseScheduleDefinition: Sendable {
    /// The word in configs and on the command line (`schedule` key, `--schedule`). Stored in manifests and
    /// checkpoints: never change it once published.
    var name: String { get }
    /// One line for `ldae-train --help`.
    var summary: String { get }
    /// gamma_t = 1 for every t (variance exploding): input scaling then changes nothing.
    var varianceExploding: Bool { get }
    /// The recipe's knobs it reads besides `timesteps` (JSON keys, e.g. "sigma_max"): the model card shows them.
    var reads: Set<String> { get }
    /// The table for t = 1...T at index t - 1. `config` holds the knobs a schedule may read (`sigma_max`).
    func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable
}

extension NoiseScheduleDefinition {
    public var reads: Set<String> { [] }
}

/// (gamma_t^2, sigma_t) for t = 1...T at index t - 1.
public struct ScheduleTable: Sendable, Equatable {
    public var gamma2: [Double]
    public var sigma: [Double]

    public init(gamma2: [Double], sigma: [Double]) { self.gamma2 = gamma2; self.sigma = sigma }

    /// gamma = 1 everywhere: z_t = z0 + sigma_t eps.
    public static func varianceExploding(sigma: [Double]) -> ScheduleTable {
        ScheduleTable(gamma2: [Double](repeating: 1, count: sigma.count), sigma: sigma)
    }

    /// DDPM's form from its betas: gamma_t^2 = prod over s <= t of (1 - beta_s), beta(i) the beta of t = i + 1.
    public static func betas(_ T: Int, _ beta: (Int) -> Double) -> ScheduleTable {
        var g2 = [Double](repeating: 1, count: T), prod = 1.0
        for i in 0..<T {
            prod *= 1 - beta(i)
            g2[i] = prod
        }
        return .variancePreserving(gamma2: g2)
    }

    /// sigma_t^2 = 1 - gamma_t^2 (DDPM's form).
    public static func variancePreserving(gamma2: [Double]) -> ScheduleTable {
        ScheduleTable(gamma2: gamma2, sigma: gamma2.map { max(0, 1 - $0).squareRoot() })
    }
}

/// The schedule a config names: one of `registry` (Schedules.swift), held by its word (so the JSON holds just that word).
public struct NoiseScheduleKind: MethodOption, CustomStringConvertible {
    public let rawValue: String

    /// The registered schedule of that name; nil for any other word.
    public init?(rawValue: String) {
        guard Self.registry.contains(where: { $0.name == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// The kind of a registered schedule (for the static members beside each schedule, Schedules.swift).
    init(_ schedule: some NoiseScheduleDefinition) { rawValue = schedule.name }

    public static var allCases: [NoiseScheduleKind] { registry.map { NoiseScheduleKind($0) } }

    /// The schedule itself (every kind comes from `registry`, so it is always found).
    public var definition: any NoiseScheduleDefinition {
        guard let d = Self.registry.first(where: { $0.name == rawValue }) else {
            fatalError("noise schedule '\(rawValue)' is not registered")
        }
        return d
    }

    public var varianceExploding: Bool { definition.varianceExploding }

    public var description: String { rawValue }

    /// "  name     summary" lines for usage text, names padded to one column.
    public static func usageLines(indent: String) -> String {
        let w = registry.map(\.name.count).max() ?? 0
        return registry.map { indent + $0.name.padding(toLength: w + 2, withPad: " ", startingAt: 0) + $0.summary }
            .joined(separator: "\n")
    }
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
