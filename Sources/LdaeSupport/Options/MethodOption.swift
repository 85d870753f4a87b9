/// A choice as a type: one enum per choice, its cases the only values a config or a flag can hold. Each is
/// `String`-backed, so the JSON (manifests, checkpoints, `--config FILE.json`) holds the word itself, and the
/// command line's choice lists and error messages come from `allCases`.
///
/// Adding a choice is adding a case; the compiler then points at every `switch` that must handle it.
public protocol MethodOption: RawRepresentable, Codable, CaseIterable, Sendable, Hashable where RawValue == String {}

extension MethodOption {
    /// "a|b|c", for usage text.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
    /// "a, b or c", for error messages.
    public static var choiceList: String {
        let all = allCases.map(\.rawValue)
        return all.count <= 1 ? all.joined() : all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    /// Decodes the word; any other is an error listing the choices (never a silent default).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Self(rawValue: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not one of \(Self.choiceList)")
        }
        self = v
    }
}

extension Arguments {
    /// The value of `--name` as a method option, `d` when absent; a value that is no case is a usage error
    /// listing the cases.
    public func choice<T: MethodOption>(_ name: String, default d: T) throws -> T {
        guard let s = string(name) else { return d }
        guard let v = T(rawValue: s) else { throw UsageError("--\(name) must be one of \(T.choiceList), got '\(s)'") }
        return v
    }
}
