import Foundation

/// One knob of a configuration (`TrainConfig`, `ModelConfig`, `TrainOptions`), declared once: its JSON key, its
/// command-line flag, its range, its help and, when it is a step of the paper's deconstruction, what that step
/// changes. Decoding and encoding, the flags a command declares and applies, `--help`, `validate()`, the model card's
/// recipe lines and docs/method.md's option table are all read off a config's list of knobs (KnobList.swift); the
/// knob's default is the field's initial value in `Config()`.
///
/// Adding a knob is its field, its knob in the config's list, and the code that uses the value.
public struct Knob<Config>: @unchecked Sendable {
    /// The JSON key (snake_case) in manifests, checkpoints and config files; nil for a run option of the command line.
    public let key: String?
    /// The flag without its dashes; nil when only a config file sets it.
    public let flag: String?
    /// What the flag's value is called in `--help` ("N", "LR", "a|b|c"); empty for a switch.
    public let placeholder: String
    public let help: String
    /// The heading `--help` lists it under.
    public let section: String
    /// What `--help` says of the default: the value itself, a text of its own, or nothing.
    public let helpDefault: HelpDefault
    /// A step of the paper's deconstruction (a row of docs/method.md's option table).
    public let step: MethodStep?
    /// The model card's line that shows it (nil: not on the card).
    public let card: String?

    public enum HelpDefault: Sendable { case value, text(String), none }

    /// Whether the flag takes a value (a switch does not).
    public var takesValue: Bool { !placeholder.isEmpty }
    /// The card's and the docs' name of the knob: its JSON key, else its flag.
    public var name: String { key ?? flag ?? "" }

    /// The value as the card and `--help` show it.
    public let shown: (Config) -> String
    /// Whether the value matters for this config (the card leaves out the knobs that change nothing).
    public let applies: (Config) -> Bool
    let decode: ((KeyedDecodingContainer<JSONKey>, inout Config) throws -> Void)?
    let encode: ((inout KeyedEncodingContainer<JSONKey>, Config) throws -> Void)?
    /// Sets the field from the flag when it was given (nil: the command reads the flag itself).
    let apply: ((Arguments, inout Config) throws -> Void)?
    /// The range: nil when the value is in it, else what it must be ("must be >= 1").
    let check: ((Config) -> String?)?

    /// A knob the command applies itself (a flag with special handling: `--config`, `--class-cond`, ...).
    public static func custom(flag: String, _ placeholder: String = "", help: String, section: String,
                              helpDefault: HelpDefault = .none, step: MethodStep? = nil) -> Knob {
        Knob(key: nil, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault, step: step,
             card: nil, shown: { _ in "" }, applies: { _ in true }, decode: nil, encode: nil, apply: nil, check: nil)
    }
}

/// A row of docs/method.md's option table: what the step of the deconstruction changes and the paper's number.
public struct MethodStep: Sendable {
    /// The values column (default first); nil: derived from the knob (its choices, or its default).
    public var values: String?
    public var changes: String
    public var paper: String
    public init(values: String? = nil, changes: String, paper: String = "") {
        self.values = values; self.changes = changes; self.paper = paper
    }
}

/// The key of a knob in a keyed container: its JSON key camel-cased, which the snake_case coders map back.
public struct JSONKey: CodingKey {
    public let stringValue: String
    public var intValue: Int? { nil }
    public init(_ snake: String) {
        let words = snake.split(separator: "_").map(String.init)
        stringValue = (words.first ?? "") + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}

extension Knob {
    /// A knob of a value that is encoded as itself (numbers, words, switches).
    static func field<T: Codable>(_ kp: WritableKeyPath<Config, T>, key: String?, flag: String?, placeholder: String, help: String,
                                  section: String, helpDefault: HelpDefault, step: MethodStep?, card: String?, required: Bool,
                                  shown: @escaping (Config) -> String, applies: @escaping (Config) -> Bool,
                                  apply: ((Arguments, inout Config) throws -> Void)?, check: ((Config) -> String?)?) -> Knob {
        Knob(key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault, step: step, card: card,
             shown: shown, applies: applies,
             decode: key.map { k in { c, config in
                 if required { config[keyPath: kp] = try c.decode(T.self, forKey: JSONKey(k)) }
                 else if let v = try c.decodeIfPresent(T.self, forKey: JSONKey(k)) { config[keyPath: kp] = v }
             } },
             encode: key.map { k in { c, config in try c.encode(config[keyPath: kp], forKey: JSONKey(k)) } },
             apply: apply, check: check)
    }

    public static func int(_ kp: WritableKeyPath<Config, Int>, key: String?, flag: String? = nil, _ placeholder: String = "N",
                           _ bounds: Bounds<Int>? = nil, help: String = "", section: String = "", default helpDefault: HelpDefault = .value,
                           step: MethodStep? = nil, card: String? = nil, required: Bool = false,
                           applies: @escaping (Config) -> Bool = { _ in true }) -> Knob {
        let name = key ?? flag ?? ""
        return field(kp, key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault,
                     step: step, card: card, required: required, shown: { "\($0[keyPath: kp])" }, applies: applies,
                     apply: flag.map { f in { a, c in if let v = try a.int(f) { c[keyPath: kp] = v } } },
                     check: bounds.map { b in { b.failure(name, $0[keyPath: kp]) } })
    }

    public static func double(_ kp: WritableKeyPath<Config, Double>, key: String?, flag: String? = nil, _ placeholder: String = "X",
                              _ bounds: Bounds<Double>? = nil, help: String = "", section: String = "", default helpDefault: HelpDefault = .value,
                              step: MethodStep? = nil, card: String? = nil, applies: @escaping (Config) -> Bool = { _ in true }) -> Knob {
        let name = key ?? flag ?? ""
        return field(kp, key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault,
                     step: step, card: card, required: false, shown: { Knob.number($0[keyPath: kp]) }, applies: applies,
                     apply: flag.map { f in { a, c in if let v = try a.double(f) { c[keyPath: kp] = v } } },
                     check: bounds.map { b in { b.failure(name, $0[keyPath: kp]) } })
    }

    /// A number that may be absent from the JSON (`shownDefault`: what an absent value means).
    public static func optionalDouble(_ kp: WritableKeyPath<Config, Double?>, key: String, flag: String? = nil, _ placeholder: String = "X",
                                      _ bounds: Bounds<Double>? = nil, absent: Double, help: String = "", section: String = "",
                                      step: MethodStep? = nil, card: String? = nil,
                                      applies: @escaping (Config) -> Bool = { _ in true }) -> Knob {
        Knob(key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: .text(number(absent)), step: step,
             card: card, shown: { number($0[keyPath: kp] ?? absent) }, applies: applies,
             decode: { c, config in config[keyPath: kp] = try c.decodeIfPresent(Double.self, forKey: JSONKey(key)) },
             encode: { c, config in try c.encodeIfPresent(config[keyPath: kp], forKey: JSONKey(key)) },
             apply: flag.map { f in { a, c in if let v = try a.double(f) { c[keyPath: kp] = v } } },
             check: bounds.map { b in { b.failure(key, $0[keyPath: kp] ?? absent) } })
    }

    /// A whole number that may be absent (nil: what it counts is off, or derived): a JSON key, a flag or both.
    public static func optionalInt(_ kp: WritableKeyPath<Config, Int?>, key: String? = nil, flag: String? = nil, _ placeholder: String = "N",
                                   _ bounds: Bounds<Int>? = nil, help: String = "", section: String = "") -> Knob {
        let name = key ?? flag ?? ""
        return Knob(key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: .none, step: nil, card: nil,
                    shown: { $0[keyPath: kp].map { "\($0)" } ?? "off" }, applies: { _ in true },
                    decode: key.map { k in { c, config in config[keyPath: kp] = try c.decodeIfPresent(Int.self, forKey: JSONKey(k)) } },
                    encode: key.map { k in { c, config in try c.encodeIfPresent(config[keyPath: kp], forKey: JSONKey(k)) } },
                    apply: flag.map { f in { a, c in if let v = try a.int(f) { c[keyPath: kp] = v } } },
                    check: bounds.map { b in { c in c[keyPath: kp].flatMap { b.failure(name, $0) } } })
    }

    /// A text option of the command line (a path, a name), set when given.
    public static func text(_ kp: WritableKeyPath<Config, String>, flag: String, _ placeholder: String, help: String, section: String,
                            default helpDefault: HelpDefault = .value) -> Knob {
        Knob(key: nil, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault, step: nil, card: nil,
             shown: { $0[keyPath: kp] }, applies: { _ in true }, decode: nil, encode: nil,
             apply: { a, c in if let v = a.string(flag) { c[keyPath: kp] = v } }, check: nil)
    }

    public static func text(_ kp: WritableKeyPath<Config, String?>, flag: String, _ placeholder: String, help: String, section: String,
                            step: MethodStep? = nil) -> Knob {
        Knob(key: nil, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: .none, step: step, card: nil,
             shown: { $0[keyPath: kp] ?? "" }, applies: { _ in true }, decode: nil, encode: nil,
             apply: { a, c in if let v = a.string(flag) { c[keyPath: kp] = v } }, check: nil)
    }

    public static func seed(_ kp: WritableKeyPath<Config, UInt64>, key: String?, flag: String? = nil, _ placeholder: String = "S",
                            help: String = "", section: String = "", default helpDefault: HelpDefault = .value,
                            card: String? = nil) -> Knob {
        field(kp, key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: helpDefault, step: nil,
              card: card, required: false, shown: { "\($0[keyPath: kp])" }, applies: { _ in true },
              apply: flag.map { f in { a, c in if let v = try a.uint64(f) { c[keyPath: kp] = v } } }, check: nil)
    }

    /// A seed that may be absent (nil: derived by the command), in the JSON only when set.
    public static func optionalSeed(_ kp: WritableKeyPath<Config, UInt64?>, key: String, flag: String? = nil, _ placeholder: String = "S",
                                    help: String = "", section: String = "") -> Knob {
        Knob(key: key, flag: flag, placeholder: placeholder, help: help, section: section, helpDefault: .none, step: nil, card: nil,
             shown: { $0[keyPath: kp].map { "\($0)" } ?? "" }, applies: { _ in true },
             decode: { c, config in config[keyPath: kp] = try c.decodeIfPresent(UInt64.self, forKey: JSONKey(key)) },
             encode: { c, config in try c.encodeIfPresent(config[keyPath: kp], forKey: JSONKey(key)) },
             apply: flag.map { f in { a, c in if let v = try a.uint64(f) { c[keyPath: kp] = v } } }, check: nil)
    }

    /// One of a method option's words (`--flag a|b|c`).
    public static func choice<T: MethodOption>(_ kp: WritableKeyPath<Config, T>, key: String?, flag: String? = nil,
                                               help: String = "", section: String = "", default helpDefault: HelpDefault = .value,
                                               step: MethodStep? = nil, card: String? = nil, required: Bool = false,
                                               applies: @escaping (Config) -> Bool = { _ in true }) -> Knob {
        field(kp, key: key, flag: flag, placeholder: T.choices, help: help, section: section, helpDefault: helpDefault, step: step,
              card: card, required: required, shown: { $0[keyPath: kp].rawValue }, applies: applies,
              apply: flag.map { f in { a, c in c[keyPath: kp] = try a.choice(f, default: c[keyPath: kp]) } }, check: nil)
    }

    /// A boolean: in the JSON as true/false; on the command line a switch `--flag` that sets it to `switchTo`
    /// (`--input-scaling`: true; `--no-flip`: false).
    public static func `switch`(_ kp: WritableKeyPath<Config, Bool>, key: String?, flag: String?, to switchTo: Bool,
                                help: String = "", section: String = "", step: MethodStep? = nil, card: String? = nil,
                                applies: @escaping (Config) -> Bool = { _ in true }) -> Knob {
        field(kp, key: key, flag: flag, placeholder: "", help: help, section: section, helpDefault: .none, step: step, card: card,
              required: false, shown: { $0[keyPath: kp] ? "on" : "off" }, applies: applies,
              apply: flag.map { f in { a, c in if a.flag(f) { c[keyPath: kp] = switchTo } } }, check: nil)
    }

    /// "0.1", "1.5e-04", "1.41421": six significant digits, as `%g`.
    public static func number(_ v: Double) -> String { String(format: "%g", v) }
}

/// The range of a knob's value: a lower bound and an upper bound, each inclusive or not (doubles must be finite).
public struct Bounds<T: Comparable & Sendable>: Sendable {
    public var lower: T?, lowerInclusive = true
    public var upper: T?, upperInclusive = true

    /// v >= x.
    public static func atLeast(_ x: T) -> Bounds { Bounds(lower: x) }
    /// v > x.
    public static func above(_ x: T) -> Bounds { Bounds(lower: x, lowerInclusive: false) }
    /// x <= v <= y.
    public static func within(_ r: ClosedRange<T>) -> Bounds { Bounds(lower: r.lowerBound, upper: r.upperBound) }
    /// x <= v < y.
    public static func within(_ r: Range<T>) -> Bounds { Bounds(lower: r.lowerBound, upper: r.upperBound, upperInclusive: false) }
    /// x < v <= y.
    public static func above(_ x: T, atMost y: T) -> Bounds { Bounds(lower: x, lowerInclusive: false, upper: y) }

    /// "must be >= 1", "must be in [0, 1)".
    public var text: String {
        switch (lower, upper) {
        case let (l?, u?): return "must be in \(lowerInclusive ? "[" : "(")\(Bounds.show(l)), \(Bounds.show(u))\(upperInclusive ? "]" : ")")"
        case let (l?, nil): return "must be \(lowerInclusive ? ">=" : ">") \(Bounds.show(l))"
        case let (nil, u?): return "must be \(upperInclusive ? "<=" : "<") \(Bounds.show(u))"
        default: return ""
        }
    }

    public func contains(_ v: T) -> Bool {
        if let d = v as? Double, !d.isFinite { return false }
        if let l = lower { guard lowerInclusive ? v >= l : v > l else { return false } }
        if let u = upper { guard upperInclusive ? v <= u : v < u else { return false } }
        return true
    }

    /// nil when `v` is inside, else "NAME must be ..., got V".
    func failure(_ name: String, _ v: T) -> String? { contains(v) ? nil : "\(name) \(text), got \(Bounds.show(v))" }

    static func show(_ v: T?) -> String {
        guard let v else { return "" }
        if let d = v as? Double { return Knob<Void>.number(d) }
        return "\(v)"
    }
}
