/// One noise schedule: for t in 1...T the pair (gamma_t, sigma_t) of z_t = gamma_t z0 + sigma_t eps.
///
/// Adding a schedule is one file in this folder (a type conforming to this protocol, and its `NoiseScheduleKind`
/// static member) plus its line in `NoiseScheduleKind.registry`; the JSON word, the command line's choices, its usage
/// text and its error messages all come from the registry.
public protocol NoiseScheduleDefinition: Sendable {
    /// The word in configs and on the command line (`schedule` key, `--schedule`). Stored in manifests and
    /// checkpoints: never change it once published.
    var name: String { get }
    /// One line for `ldae-train --help`.
    var summary: String { get }
    /// gamma_t = 1 for every t (variance exploding): input scaling then changes nothing.
    var varianceExploding: Bool { get }
    /// The table for t = 1...T at index t - 1. `config` holds the knobs a schedule may read (`sigma_max`).
    func table(timesteps T: Int, config: TrainConfig) -> ScheduleTable
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

    /// sigma_t^2 = 1 - gamma_t^2 (DDPM's form).
    public static func variancePreserving(gamma2: [Double]) -> ScheduleTable {
        ScheduleTable(gamma2: gamma2, sigma: gamma2.map { max(0, 1 - $0).squareRoot() })
    }
}

/// The schedule a config names: one of `registry`, held by its word (so the JSON holds just that word).
public struct NoiseScheduleKind: MethodOption, CustomStringConvertible {
    /// Every schedule, in the order `--help` lists them. A new schedule adds its line here.
    static let registry: [any NoiseScheduleDefinition] = [
        LDAESchedule(),
        DDPMSchedule(),
        LinearSchedule(),
        CosineSchedule(),
        EDMSchedule(),
    ]

    public let rawValue: String

    /// The registered schedule of that name; nil for any other word.
    public init?(rawValue: String) {
        guard Self.registry.contains(where: { $0.name == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// The kind of a registered schedule (for the static members beside each schedule).
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
