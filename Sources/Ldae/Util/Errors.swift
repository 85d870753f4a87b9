import Foundation

/// The error every command reports as one line: `<tool>: error: <file>: <reason>`.
public struct LdaeError: Error, CustomStringConvertible, LocalizedError {
    public let file: String?
    public let reason: String
    public init(_ reason: String, file: String? = nil) { self.file = file; self.reason = reason }
    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
    public var errorDescription: String? { description }
}

/// Runs a command's body; any error becomes one line on stderr and exit status 1 (2 for usage errors).
public func runCommand(_ tool: String, _ body: () throws -> Void) -> Never {
    do {
        try body()
        exit(0)
    } catch let e as UsageError {
        FileHandle.standardError.write(Data("\(tool): \(e.message)\nTry '\(tool) --help'.\n".utf8))
        exit(2)
    } catch {
        let text = String(describing: error)   // LdaeError's description: the file, then the reason
        let oneLine = text.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("\(tool): error: \(oneLine)\n".utf8))
        exit(1)
    }
}

public func eprint(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}
