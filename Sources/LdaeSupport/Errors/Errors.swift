import Foundation

/// The error every command reports as one line: `<tool>: error: <file>: <reason>`.
public struct LdaeError: Error, CustomStringConvertible, LocalizedError {
    public let file: String?
    public let reason: String
    public init(_ reason: String, file: String? = nil) { self.file = file; self.reason = reason }
    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
    public var errorDescription: String? { description }

    /// "<what> (<strerror(errno)>)" for the system call that just failed.
    public static func system(_ what: String, file: String?) -> LdaeError {
        LdaeError("\(what) (\(String(cString: strerror(errno))))", file: file)
    }
}

/// An error that names the file it is about (its description starts with it), as ldae's own and HDF5's errors do:
/// reported as is, and renamed when a temporary file becomes the output (`AtomicFile.write(to:)`).
public protocol FileNamingError: Error, CustomStringConvertible {
    var file: String? { get }
    /// The same error about another file.
    func naming(_ file: String) -> Self
}

extension LdaeError: FileNamingError {
    public func naming(_ file: String) -> LdaeError { LdaeError(reason, file: file) }
}

/// Runs a command's body; any error becomes one line on stderr and exit status 1 (2 for usage errors).
public func runCommand(_ tool: String, _ body: () throws -> Void) -> Never {
    do {
        try body()
        exit(0)
    } catch {
        exit(reportError(tool, error))
    }
}

/// Writes the one stderr line of a command's error (a usage error also points at --help; `who` goes before the
/// reason, e.g. "rank 1 of 4 (node07): ") and returns the exit status it ends with: 2 for usage errors, else 1.
@discardableResult
public func reportError(_ tool: String, _ error: Error, who: String = "") -> Int32 {
    if let u = error as? UsageError {
        FileHandle.standardError.write(Data("\(tool): \(u.message)\nTry '\(tool) --help'.\n".utf8))
        return 2
    }
    FileHandle.standardError.write(Data("\(tool): error: \(who)\(errorLine(error))\n".utf8))
    return 1
}

public func eprint(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// One line for any error: ldae's and HDF5's errors as they describe themselves (the file, then the reason);
/// Foundation's file errors (NSCocoaErrorDomain, e.g. Code=640 from a copy onto a full disk) as
/// "<file>: <reason>" with the system's reason instead of their multi-line userInfo dump.
public func errorLine(_ error: Error) -> String {
    if error is any FileNamingError || error is UsageError {
        return String(describing: error).replacingOccurrences(of: "\n", with: " ")
    }
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else {
        return String(describing: error).replacingOccurrences(of: "\n", with: " ")
    }
    let info = ns.userInfo
    let file = info["NSDestinationFilePath"] as? String ?? info[NSFilePathErrorKey] as? String ?? (info[NSURLErrorKey] as? URL)?.path
    return (file.map { "\($0): " } ?? "") + errorReason(error)
}

/// The reason of a Foundation file error in the system's words ("No space left on device"): the underlying
/// POSIX error when there is one, else Foundation's own description.
public func errorReason(_ error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(u.code)))
    }
    switch ns.code {
    case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
    case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
    case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return String(cString: strerror(ENOENT))
    case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return String(cString: strerror(EACCES))
    default: return ns.localizedDescription.replacingOccurrences(of: "\n", with: " ")
    }
}
