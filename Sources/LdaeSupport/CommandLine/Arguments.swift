import Foundation

public struct UsageError: Error, CustomStringConvertible {
    public let message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

/// A small command-line parser: `--name value`, `--name=value`, `--flag`, and positionals.
/// Every option a command reads must be declared so that typos are errors, not silently ignored.
public struct Arguments {
    public private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    public let wantsHelp: Bool

    /// `options`: names that take a value; `flagNames`: names that take none (without leading dashes).
    public init(_ argv: [String], options: Set<String>, flags flagNames: Set<String>) throws {
        var help = false
        var i = 0
        var onlyPositional = false
        while i < argv.count {
            let a = argv[i]
            if onlyPositional || !a.hasPrefix("--") || a == "-" {
                if a == "-h" { help = true } else { positionals.append(a) }
                i += 1; continue
            }
            if a == "--" { onlyPositional = true; i += 1; continue }
            var name = String(a.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...]); name = String(name[..<eq])
            }
            if name == "help" { help = true; i += 1; continue }
            if flagNames.contains(name) {
                if inline != nil { throw UsageError("option --\(name) takes no value") }
                flags.insert(name); i += 1; continue
            }
            guard options.contains(name) else { throw UsageError("unknown option --\(name)") }
            if let v = inline { values[name, default: []].append(v); i += 1; continue }
            guard i + 1 < argv.count else { throw UsageError("option --\(name) needs a value") }
            values[name, default: []].append(argv[i + 1]); i += 2
        }
        wantsHelp = help
    }

    public func flag(_ name: String) -> Bool { flags.contains(name) }
    public func string(_ name: String) -> String? { values[name]?.last }
    public func strings(_ name: String) -> [String] { values[name] ?? [] }
    public func string(_ name: String, default d: String) -> String { string(name) ?? d }

    public func int(_ name: String) throws -> Int? {
        guard let s = string(name) else { return nil }
        let cleaned = s.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: ",", with: "")
        guard let v = Int(cleaned) else { throw UsageError("--\(name) expects an integer, got '\(s)'") }
        return v
    }
    public func int(_ name: String, default d: Int) throws -> Int { try int(name) ?? d }

    public func double(_ name: String) throws -> Double? {
        guard let s = string(name) else { return nil }
        guard let v = Double(s) else { throw UsageError("--\(name) expects a number, got '\(s)'") }
        return v
    }
    public func double(_ name: String, default d: Double) throws -> Double { try double(name) ?? d }

    public func uint64(_ name: String) throws -> UInt64? {
        guard let s = string(name) else { return nil }
        guard let v = UInt64(s) else { throw UsageError("--\(name) expects a non-negative integer, got '\(s)'") }
        return v
    }

    /// `--part i/n` (0 <= i < n, 0-based), as batch schedulers number array tasks; nil when absent.
    public func part(_ name: String = "part") throws -> (index: Int, count: Int)? {
        guard let s = string(name) else { return nil }
        let p = s.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n else {
            throw UsageError("--\(name) expects i/n with 0 <= i < n (0-based), got '\(s)'")
        }
        return (i, n)
    }
}
