import Foundation

/// Atomic writes: everything ldae writes goes to a temporary name in the same folder, then is renamed.
public enum AtomicFile {
    /// A temporary sibling path for `path` (same directory, so rename is atomic).
    public static func tempPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        return dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
    }

    /// Moves `temp` over `path` atomically (rename(2)); replaces an existing file.
    public static func commit(temp: String, to path: String) throws {
        if rename(temp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw LdaeError("cannot rename temporary file into place: \(reason)", file: path)
        }
    }

    /// Writes `data` to `path` atomically (POSIX write and fsync, so that a full disk is reported, not lost).
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { tmp in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw LdaeError.system("cannot write", file: tmp) }
            defer { close(fd) }
            try data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                var done = 0
                while done < b.count {
                    let r = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                    if r < 0 && errno == EINTR { continue }
                    guard r > 0 else { throw LdaeError.system("cannot write", file: tmp) }
                    done += r
                }
            }
            guard fsync(fd) == 0 else { throw LdaeError.system("cannot write", file: tmp) }
        }
    }

    /// Writes with a closure that receives the temporary path; renames only if the closure succeeds.
    /// On failure the temporary is removed and an error naming it names `path` instead.
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let tmp = tempPath(for: path)
        do { try body(tmp) } catch {
            unlink(tmp)
            if let e = error as? any FileNamingError, e.file == tmp { throw e.naming(path) }
            throw error
        }
        try commit(temp: tmp, to: path)
    }
}

/// An exclusive lock on an output folder: `flock` on a lock file inside it, held until `release()` (or
/// the process ends, even by a crash or SIGKILL: the kernel drops it). A second writer of the same folder
/// fails at once with one line naming the holder, instead of both writing and leaving a mixed folder.
/// Readers take no lock; they verify what they read against index.json / the manifest.
///
///     let lock = try FolderLock.acquire(out, command: "ldae-prep images")
///     defer { lock.release() }
public final class FolderLock: @unchecked Sendable {
    /// The lock file of a folder written as a whole (prep and merge output, a training run folder).
    public static let defaultName = ".ldae.lock"
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) { self.path = path; self.fd = fd }

    /// Creates `dir` if needed and locks `dir/name` (for a single output file, a name of its own, e.g.
    /// ".pca.h5.lock", so that other outputs in the same folder are not blocked). Throws when another process
    /// (or another lock in this one) holds it.
    public static func acquire(_ dir: String, command: String, name: String = defaultName) throws -> FolderLock {
        try FileUtil.makeDirectory(dir)
        let path = dir + "/" + name
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LdaeError.system("cannot create the lock file", file: path) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            var holder = [UInt8](repeating: 0, count: 256)
            let n = pread(fd, &holder, 255, 0)
            close(fd)
            guard e == EWOULDBLOCK else { throw LdaeError("cannot lock the folder (\(String(cString: strerror(e))))", file: dir) }
            let who = n > 0 ? String(decoding: holder[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "another process"
            throw LdaeError("is being written by \(who.isEmpty ? "another process" : who) (lock \(name)); wait for it to finish or choose another output", file: dir)
        }
        // Who holds it, for the message a second writer gets.
        let me = Array("\(command) (pid \(getpid()))\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pwrite(fd, me, me.count, 0) }
        return FolderLock(path: path, fd: fd)
    }

    /// Releases the lock (the lock file stays: removing it would race with a writer that just opened it).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// A short critical section shared by processes: `flock` on `path`, waiting for it (not failing like
/// `FolderLock`): for read-modify-write steps of a few milliseconds, such as appending to a zoo entry's
/// evals.jsonl and regenerating its card.
public enum SharedLock {
    public static func withExclusive<R>(_ path: String, _ body: () throws -> R) throws -> R {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LdaeError.system("cannot create the lock file", file: path) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw LdaeError.system("cannot lock", file: path) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

public enum FileUtil {
    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    public static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    public static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw LdaeError("cannot create folder (\(errorReason(error)))", file: path)
        }
    }

    /// The size in bytes of the file at `path` (symlinks followed), nil when it cannot be stat'ed.
    public static func size(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    public static func read(_ path: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw LdaeError(exists(path) ? "cannot read file" : "no such file", file: path)
        }
        return d
    }
}

/// JSON with sorted keys and snake_case field names, as every ldae file uses.
public enum JSON {
    public static func encode<T: Encodable>(_ v: T, pretty: Bool = true) throws -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(v)
    }

    public static func decode<T: Decodable>(_ t: T.Type, from data: Data, file: String) throws -> T {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try d.decode(t, from: data) } catch DecodingError.keyNotFound(_, _) where acronymDecoder().map({ (try? $0.decode(t, from: data)) != nil }) == true {
            // Foundation's convertFromSnakeCase turns "base_lr" into "baseLr", not the "baseLR" it was encoded from:
            // retry with the acronyms ldae's types use restored (baseLR, indexSHA256, pcaSHA256, psnrPCACeiling, ...).
            return try acronymDecoder()!.decode(t, from: data)
        } catch let DecodingError.keyNotFound(k, _) {
            throw LdaeError("invalid JSON: missing key '\(k.stringValue)'", file: file)
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw LdaeError("invalid JSON: wrong type at \(ctx.codingPath.map { $0.stringValue }.joined(separator: "."))", file: file)
        } catch let DecodingError.dataCorrupted(ctx) where !ctx.codingPath.isEmpty {
            throw LdaeError("invalid JSON: \(ctx.codingPath.map { $0.stringValue }.joined(separator: ".")): \(ctx.debugDescription)", file: file)
        } catch {
            throw LdaeError("invalid JSON: \(error.localizedDescription)", file: file)
        }
    }

    /// Acronyms (a non-first snake_case word -> its camelCase spelling) that `convertToSnakeCase` lower-cases.
    static let acronyms: [String: String] = ["lr": "LR", "sha256": "SHA256", "pca": "PCA", "knn": "KNN"]

    /// A decoder whose snake_case -> camelCase conversion restores `acronyms` (the inverse of the encoder for them).
    static func acronymDecoder() -> JSONDecoder? {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        d.keyDecodingStrategy = .custom { path in
            let key = path.last!.stringValue
            let words = key.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
            guard words.count > 1, !key.hasPrefix("_") else { return path.last! }
            let camel = words[0] + words.dropFirst().map { acronyms[$0] ?? $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            return AnyKey(camel)
        }
        return d
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    public static func read<T: Decodable>(_ t: T.Type, path: String) throws -> T {
        try decode(t, from: try FileUtil.read(path), file: path)
    }

    public static func write<T: Encodable>(_ v: T, to path: String) throws {
        var d = try encode(v)
        d.append(0x0A)
        try AtomicFile.write(d, to: path)
    }
}
