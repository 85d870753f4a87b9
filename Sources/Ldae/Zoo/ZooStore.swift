import Foundation

/// The versioned local model zoo: `ROOT/NAME/vN/` with manifest.json, weights.safetensors, pca.h5, logs,
/// figures and an append-only evals.jsonl. Versions are immutable (but evals.jsonl); publishing is atomic.
public struct ZooStore: Sendable {
    public static let manifestFile = "manifest.json"
    public static let weightsFile = "weights.safetensors"
    public static let evalsFile = "evals.jsonl"

    public let root: String

    public init(root: String) { self.root = root }

    /// `--zoo DIR` (`explicit`), else `$LDAE_ZOO` (`environment`, read by the commands' mains), else `zoo/` at the
    /// repository root (found upwards from the current directory, then from the executable), else `./zoo`.
    public static func resolve(_ explicit: String?, environment: String?) -> ZooStore {
        if let e = explicit, !e.isEmpty { return ZooStore(root: e) }
        if let env = environment, !env.isEmpty { return ZooStore(root: env) }
        let starts = [FileManager.default.currentDirectoryPath,
                      URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent().path]
        for s in starts {
            var url = URL(fileURLWithPath: s)
            for _ in 0..<8 {
                if FileUtil.exists(url.appendingPathComponent("Package.swift").path) && FileUtil.isDirectory(url.appendingPathComponent("zoo").path) {
                    return ZooStore(root: url.appendingPathComponent("zoo").path)
                }
                url.deleteLastPathComponent()
            }
        }
        return ZooStore(root: "zoo")
    }

    public static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix(".") &&
            name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { !$0.hasPrefix(".") && FileUtil.isDirectory(root + "/" + $0) }.sorted()
    }

    /// Published version numbers of NAME, ascending.
    public func versions(_ name: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + name)) ?? [])
            .compactMap { $0.hasPrefix("v") ? Int($0.dropFirst()) : nil }.sorted()
    }

    public func path(_ name: String, _ version: Int) -> String { "\(root)/\(name)/v\(version)" }

    /// A staging folder inside the zoo root (same filesystem, so publishing is a rename).
    public func makeStaging(_ name: String) throws -> String {
        guard ZooStore.validName(name) else { throw LdaeError("invalid zoo name '\(name)' (use letters, digits, - _ .)") }
        let dir = "\(root)/.staging/\(name)-\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1000))"
        try FileUtil.makeDirectory(dir)
        return dir
    }

    /// Publishes a staged folder as the next free version of `manifest.name`: hashes every file, writes the
    /// manifest, then renames the folder into place. An existing version is never overwritten.
    @discardableResult
    public func publish(staging: String, manifest: Manifest) throws -> (version: Int, path: String) {
        var m = manifest
        var files: [String: String] = [:]
        for f in ZooStore.hashedFiles(staging) { files[f] = try SHA256.hex(file: staging + "/" + f) }
        m.files = files
        try FileUtil.makeDirectory(root + "/" + m.name)
        var v = (versions(m.name).last ?? 0) + 1
        for _ in 0..<100 {
            m.version = "v\(v)"
            try JSON.write(m, to: staging + "/" + ZooStore.manifestFile)
            let dest = path(m.name, v)
            if !FileUtil.exists(dest) && rename(staging, dest) == 0 { return (v, dest) }
            if errno != EEXIST && errno != ENOTEMPTY && !FileUtil.exists(dest) {
                throw LdaeError("cannot publish: \(String(cString: strerror(errno)))", file: dest)
            }
            v += 1
        }
        throw LdaeError("cannot find a free version", file: root + "/" + m.name)
    }

    /// Files of an entry that change after publishing and so are not hashed: the manifest itself, the append-only
    /// evaluation log and the model card generated from both.
    public static let unhashedFiles: Set<String> = [manifestFile, evalsFile, ModelCard.fileName]

    /// The files of an entry that its manifest lists with their sha256: every regular file but the unhashed ones and
    /// hidden files, sorted.
    static func hashedFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().filter {
            !ZooStore.unhashedFiles.contains($0) && !$0.hasPrefix(".") && !FileUtil.isDirectory(dir + "/" + $0)
        }
    }

    /// Parses "NAME", "NAME@3" or "NAME@v3"; NAME alone is the newest version.
    public func resolveRef(_ ref: String) throws -> (name: String, version: Int) {
        let parts = ref.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        // A name is one folder of the zoo: no path ("../../x" would resolve outside it).
        guard ZooStore.validName(name) else {
            throw LdaeError("invalid model name '\(name)' (a zoo name is letters, digits, - _ . and cannot start with '.')", file: root)
        }
        let vs = versions(name)
        guard !vs.isEmpty else {
            throw LdaeError("no model '\(name)' in the zoo (known: \(names().joined(separator: ", ")))", file: root)
        }
        if parts.count == 2 {
            let s = parts[1].hasPrefix("v") ? String(parts[1].dropFirst()) : parts[1]
            guard let v = Int(s), vs.contains(v) else {
                throw LdaeError("model '\(name)' has no version '\(parts[1])' (versions: \(vs.map { "v\($0)" }.joined(separator: ", ")))", file: root)
            }
            return (name, v)
        }
        return (name, vs.last!)
    }

    /// Loads and verifies an entry: manifest format/version and the sha256 of every listed file.
    public func load(_ ref: String, verify: Bool = true) throws -> (manifest: Manifest, dir: String) {
        let (name, v) = try resolveRef(ref)
        let dir = path(name, v)
        let mpath = dir + "/" + ZooStore.manifestFile
        let m = try JSON.read(Manifest.self, path: mpath)
        guard m.format == FormatName.manifest else { throw LdaeError("not an ldae manifest (format '\(m.format)')", file: mpath) }
        guard m.formatVersion == FormatVersion.manifest else {
            throw LdaeError("manifest format_version \(m.formatVersion) is not supported (this build reads \(FormatVersion.manifest))", file: mpath)
        }
        // The files an entry lists are files of its folder (publish lists its top-level files): a name that leads
        // elsewhere ("../../x", "/dev/zero") would have verification read whatever it names.
        if let f = m.files.keys.sorted().first(where: { !ZooStore.isPlainFileName($0) }) {
            throw LdaeError("damaged zoo entry: the manifest lists '\(f)', which is not a file name inside the entry", file: mpath)
        }
        if verify {
            // Every file publish hashed must be listed: all regular files of the entry but manifest.json, the
            // append-only evals.jsonl and hidden files (subfolders such as figures/ are written after publishing).
            let unlisted = ZooStore.hashedFiles(dir).filter { m.files[$0] == nil }
            if let f = unlisted.first {
                throw LdaeError("damaged zoo entry: file not listed in the manifest" + (unlisted.count > 1 ? " (and \(unlisted.count - 1) more)" : ""), file: dir + "/" + f)
            }
            for (f, sha) in m.files.sorted(by: { $0.key < $1.key }) {
                let p = dir + "/" + f
                guard FileUtil.exists(p) else { throw LdaeError("damaged zoo entry: file listed in the manifest is missing", file: p) }
                let got = try SHA256.hex(file: p)
                guard got == sha else { throw LdaeError("damaged zoo entry: sha256 mismatch (manifest \(sha.prefix(12))..., file \(got.prefix(12))...)", file: p) }
            }
        }
        return (m, dir)
    }

    /// A file name inside one folder: not empty, no "/", not "." or "..".
    public static func isPlainFileName(_ f: String) -> Bool {
        !f.isEmpty && !f.contains("/") && f != "." && f != ".." && !f.contains("\0")
    }

    /// Appends one JSON line to the entry's evals.jsonl (the only file that changes after publishing).
    /// Appends one line to the entry's evals.jsonl: one write(2) on an O_APPEND descriptor under the entry's lock,
    /// so concurrent evaluations never lose or interleave lines. Call it inside `withEntryLock` to regenerate the
    /// card from the same state.
    public func appendEval<T: Encodable>(_ record: T, dir: String) throws {
        var line = try JSON.encode(record, pretty: false)
        line.append(0x0A)
        let p = dir + "/" + ZooStore.evalsFile
        let fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LdaeError.system("cannot open for appending", file: p) }
        defer { close(fd) }
        var done = 0
        try line.withUnsafeBytes { b in
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; throw LdaeError.system("cannot write", file: p) }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw LdaeError.system("cannot write", file: p) }
    }

    /// Runs `body` holding the entry's lock (`.entry.lock` in its folder; hidden, so not hashed): evaluations'
    /// appends and card regenerations, and manifest updates (`recommend`) are serialised, so the card always
    /// reflects every line of evals.jsonl. Readers (verify, load) take no lock.
    public func withEntryLock<R>(_ dir: String, _ body: () throws -> R) throws -> R {
        try SharedLock.withExclusive(dir + "/.entry.lock", body)
    }

    /// `ldae-zoo eval`: evaluates the entry `ref` (`Evaluation.run`) and, when `record`, appends the record to its
    /// evals.jsonl and rewrites its model card, under the entry's lock.
    public func evaluate(_ ref: String, options: Evaluation.Options, record: Bool = true) throws -> EvalRecord {
        let zm = try ZooModel(store: self, ref: ref)
        let rec = try Evaluation.run(zm, options: options)
        if record {
            try withEntryLock(zm.dir) {
                try appendEval(rec, dir: zm.dir)
                try ModelCard.write(dir: zm.dir)
            }
        }
        return rec
    }
}
