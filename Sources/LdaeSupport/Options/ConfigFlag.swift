/// The command line's names for the recipe and the architecture: one row per flag, naming the config field it sets.
/// `ldae-train` declares exactly these flags (so none is parsed and then forgotten) and applies them in order;
/// ranges are checked afterwards by `TrainConfig.validate()` and `ModelConfig.validate()`.
public struct ConfigFlag<Config> {
    /// Without the leading dashes.
    public let name: String
    /// A switch (no value), or an option that takes one.
    public let takesValue: Bool
    let apply: (Arguments, inout Config) throws -> Void

    public static func int(_ name: String, _ field: WritableKeyPath<Config, Int>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in if let v = try a.int(name) { c[keyPath: field] = v } }
    }
    public static func double(_ name: String, _ field: WritableKeyPath<Config, Double>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in if let v = try a.double(name) { c[keyPath: field] = v } }
    }
    public static func optionalDouble(_ name: String, _ field: WritableKeyPath<Config, Double?>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in if let v = try a.double(name) { c[keyPath: field] = v } }
    }
    public static func seed(_ name: String, _ field: WritableKeyPath<Config, UInt64>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in if let v = try a.uint64(name) { c[keyPath: field] = v } }
    }
    public static func choice<T: MethodOption>(_ name: String, _ field: WritableKeyPath<Config, T>) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: true) { a, c in c[keyPath: field] = try a.choice(name, default: c[keyPath: field]) }
    }
    /// `--name` sets the field to `value` (`--input-scaling`: true; `--no-flip`: false).
    public static func `switch`(_ name: String, _ field: WritableKeyPath<Config, Bool>, to value: Bool) -> ConfigFlag {
        ConfigFlag(name: name, takesValue: false) { a, c in if a.flag(name) { c[keyPath: field] = value } }
    }
}

extension Array {
    /// The flags' names, split as `Arguments` declares them.
    public func declared<Config>() -> (options: Set<String>, switches: Set<String>) where Element == ConfigFlag<Config> {
        (Set(filter(\.takesValue).map(\.name)), Set(filter { !$0.takesValue }.map(\.name)))
    }

    /// `config` with every flag present in `a` applied, in table order.
    public func apply<Config>(_ a: Arguments, to config: Config) throws -> Config where Element == ConfigFlag<Config> {
        var c = config
        for f in self { try f.apply(a, &c) }
        return c
    }
}
