import Foundation

/// What a config's list of knobs gives: its JSON coding, its flags, its range checks, its `--help` lines, its rows
/// of docs/method.md's option table and its lines on the model card.
extension Array {
    /// Decodes every knob present (required knobs must be; the others keep `config`'s values when absent).
    public func decode<Config>(_ decoder: Decoder, into config: inout Config) throws where Element == Knob<Config> {
        let c = try decoder.container(keyedBy: JSONKey.self)
        for k in self { try k.decode?(c, &config) }
    }

    /// Encodes every knob with a JSON key (absent optionals are left out).
    public func encode<Config>(_ config: Config, to encoder: Encoder) throws where Element == Knob<Config> {
        var c = encoder.container(keyedBy: JSONKey.self)
        for k in self { try k.encode?(&c, config) }
    }

    /// The flags, split as `Arguments` declares them (options take a value, switches do not).
    public func declared<Config>() -> (options: Set<String>, switches: Set<String>) where Element == Knob<Config> {
        let flagged = filter { $0.flag != nil }
        return (Set(flagged.filter(\.takesValue).map { $0.flag! }), Set(flagged.filter { !$0.takesValue }.map { $0.flag! }))
    }

    /// `config` with every flag given in `a` applied, in list order (the knobs the command applies itself aside).
    public func apply<Config>(_ a: Arguments, to config: Config) throws -> Config where Element == Knob<Config> {
        var c = config
        for k in self { try k.apply?(a, &c) }
        return c
    }

    /// Every knob's range: the first value outside its range is an error "invalid WHAT: KEY must be ..., got V".
    public func validate<Config>(_ config: Config, what: String) throws where Element == Knob<Config> {
        for k in self { if let f = k.check?(config) { throw LdaeError("invalid \(what): \(f)") } }
    }

    /// The knobs' `--help` entries, their defaults taken from `defaults`.
    public func help<Config>(defaults: Config) -> [KnobHelp] where Element == Knob<Config> {
        compactMap { k in
            guard let flag = k.flag else { return nil }
            let d: String?
            switch k.helpDefault {
            case .value: d = k.shown(defaults)
            case .text(let t): d = t
            case .none: d = nil
            }
            return KnobHelp(flag: flag, placeholder: k.placeholder, help: k.help, section: k.section, defaultText: d)
        }
    }

    /// Rows of docs/method.md's option table: the knobs that are steps of the paper's deconstruction.
    public func methodRows<Config>(defaults: Config) -> [String] where Element == Knob<Config> {
        compactMap { k in
            guard let s = k.step, let flag = k.flag else { return nil }
            let values: String
            if let v = s.values { values = v }
            else if k.placeholder.contains("|") { values = k.placeholder.split(separator: "|").map { "`\($0)`" }.joined(separator: ", ") }
            else if !k.takesValue { values = "off" }
            else { values = k.shown(defaults) }
            let option = "`--\(flag)" + (k.takesValue && !k.placeholder.contains("|") ? " \(k.placeholder)`" : "`")
            return "|" + [option, values, s.changes, s.paper].map { $0.isEmpty ? " " : " \($0) " }.joined(separator: "|") + "|"
        }
    }

    /// The model card's `card` line: "key value" for every knob on it that matters for `config`, comma-separated.
    public func cardLine<Config>(_ card: String, _ config: Config) -> String where Element == Knob<Config> {
        filter { $0.card == card && $0.applies(config) }.map { "\($0.name) \($0.shown(config))" }.joined(separator: ", ")
    }
}

/// One flag of a command's `--help`.
public struct KnobHelp: Sendable {
    public var flag: String
    public var placeholder: String
    public var help: String
    public var section: String
    public var defaultText: String?

    /// The entries of `sections` in that order, each under its heading: "  --flag P   help (default D)", the help
    /// wrapped at `width` columns.
    public static func render(_ items: [KnobHelp], sections: [String], width: Int = 118) -> String {
        var out: [String] = []
        for s in sections {
            let mine = items.filter { $0.section == s }
            guard !mine.isEmpty else { continue }
            out.append(s + ":")
            for k in mine { out += k.lines(width: width) }
        }
        return out.joined(separator: "\n")
    }

    /// The entry as lines: the flag in the first 27 columns (the text below it when the flag is longer).
    func lines(width: Int) -> [String] {
        let col = 27
        let left = "  --\(flag)" + (placeholder.isEmpty ? "" : " " + placeholder)
        var text = help
        if let d = defaultText { text += text.isEmpty ? "(default \(d))" : " (default \(d))" }
        var lines: [String] = []
        var line = left.count < col - 1 ? left.padding(toLength: col, withPad: " ", startingAt: 0) : left
        if left.count >= col - 1 { lines.append(line); line = String(repeating: " ", count: col) }
        var first = true
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            if !first && line.count + 1 + word.count > width {
                lines.append(line)
                line = String(repeating: " ", count: col) + word
            } else {
                line += (first ? "" : " ") + word
            }
            first = false
        }
        lines.append(line)
        return lines
    }
}
