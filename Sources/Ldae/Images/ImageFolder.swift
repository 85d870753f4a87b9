import Foundation

/// The input of `ldae-prep images`: an ImageFolder layout (one subfolder per class, sorted names = label ids,
/// files found recursively inside each class folder) or a flat folder (unlabeled, label -1).
/// Hidden files and folders (`.DS_Store`, `.ipynb_checkpoints`, `._*`) are ignored. Every other regular file
/// is a candidate: the format is found later by magic bytes, and a non-image is skipped with its reason.
/// Symlinks are followed, but a folder is listed once: every folder visited (the root and the class folders
/// included) is remembered by (device, inode), so a link back to an ancestor (a cycle) or to a folder listed
/// elsewhere is skipped, as are links that dangle or point to themselves; each is in `skipped` with why.
/// Order is deterministic: classes, then relative paths, by byte-wise (code point) comparison, as Python's sorted().
public struct ImageFolder: Sendable {
    public struct File: Sendable, Equatable {
        /// Relative to the root, "/"-separated; bytes of a name that are not UTF-8 are shown as \xNN.
        public var path: String
        public var label: Int32
        /// The relative path's bytes as the file system has them: what is opened.
        public var rawPath: [UInt8]
        public init(path: String, label: Int32, rawPath: [UInt8]? = nil) {
            self.path = path; self.label = label; self.rawPath = rawPath ?? Array(path.utf8)
        }
    }
    /// An entry that is not a candidate file, and why (recorded in index.json's skipped list).
    public struct Skipped: Sendable, Equatable {
        public var path: String
        public var reason: SkipReason
    }
    public let root: String
    public let labeled: Bool
    public let classNames: [String]
    public let files: [File]
    /// Class folders with no candidate file.
    public let emptyClasses: [String]
    /// Regular files directly in a labeled root (ignored, as torchvision's ImageFolder does).
    public let ignoredTopLevel: Int
    /// Symlinks that loop, dangle or point to a folder already listed; files that are not regular files.
    public let skipped: [Skipped]

    static func byteLess(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// A file name's bytes as text: UTF-8 as is, any byte that is not part of valid UTF-8 as \xNN.
    static func display<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        let b = Array(bytes)
        var out = "", i = 0
        while i < b.count {
            let c = b[i]
            let n = c < 0x80 ? 1 : c >> 5 == 0b110 ? 2 : c >> 4 == 0b1110 ? 3 : c >> 3 == 0b11110 ? 4 : 0
            if n > 0, i + n <= b.count, let s = String(validating: b[i..<(i + n)], as: UTF8.self) {
                out += s; i += n
            } else {
                out += String(format: "\\x%02x", c); i += 1
            }
        }
        return out
    }

    /// Runs `body` with `bytes` as a NUL-terminated C path.
    static func withCPath<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }

    /// Lists `root`. `classNames`, when given, fixes the label ids (another split's list); a class folder
    /// not in it is an error.
    public init(root: String, classNames given: [String]? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else {
            throw LdaeError("no such folder", file: root)
        }
        guard isDir.boolValue else { throw LdaeError("not a folder (expected a folder of images)", file: root) }
        self.root = root
        var walker = Walker()
        var st = stat()
        if stat(root, &st) == 0 { walker.visited.insert(Walker.key(st)) }
        let rootBytes = Array(root.utf8)
        let top = try walker.entries(rootBytes, rel: [])
        let dirs = top.filter { $0.isDir }.sorted { $0.raw.lexicographicallyPrecedes($1.raw) }
        let plain = top.filter { !$0.isDir }.map { $0.raw }.sorted { $0.lexicographicallyPrecedes($1) }
        if dirs.isEmpty {
            if let g = given, !g.isEmpty {
                throw LdaeError("--class-names was given but the folder has no class subfolders (a flat folder is unlabeled)", file: root)
            }
            labeled = false; classNames = []; emptyClasses = []; ignoredTopLevel = 0
            files = plain.map { File(path: ImageFolder.display($0), label: -1, rawPath: $0) }
            skipped = walker.skipped
            return
        }
        labeled = true
        ignoredTopLevel = plain.count
        // A class-folder layout has no place for files at its top level: each is skipped with the reason (and
        // counts toward --max-skip-fraction, so a flat folder that merely holds one subfolder is not
        // silently reduced to that subfolder).
        let dirList = dirs.prefix(3).map { "'\($0.name)'" }.joined(separator: ", ") + (dirs.count > 3 ? ", ..." : "")
        for f in plain {
            walker.skipped.append(Skipped(path: ImageFolder.display(f), reason: SkipReason("outside_class_folder",
                "file at the top level of a class-folder layout (\(dirs.count) class folder(s): \(dirList)); only files inside class folders are read")))
        }
        let names: [String]
        if let g = given {
            for d in dirs where !g.contains(d.name) {
                throw LdaeError("class folder '\(d.name)' is not in the --class-names list (\(g.count) classes)", file: root + "/" + d.name)
            }
            names = g
        } else {
            names = dirs.map { $0.name }
        }
        classNames = names
        // Every class folder counts as visited before any is walked: a link from one class into another
        // would list the other's images under the wrong label.
        for d in dirs { walker.visited.insert(d.key) }
        var out: [File] = [], empty: [String] = []
        for d in dirs {
            let label = Int32(names.firstIndex(of: d.name)!)
            var rel: [[UInt8]] = []
            try walker.walk(rootBytes + [0x2F] + d.raw, rel: d.raw, into: &rel)
            if rel.isEmpty { empty.append(d.name) }
            rel.sort { $0.lexicographicallyPrecedes($1) }
            out += rel.map { File(path: ImageFolder.display($0), label: label, rawPath: $0) }
        }
        files = out
        emptyClasses = empty
        skipped = walker.skipped.sorted { ImageFolder.byteLess($0.path, $1.path) }
    }

    /// The bytes of a dirent's name, read in place up to its NUL. glibc packs entries tightly in readdir's
    /// buffer, so copying the whole fixed-size `d_name` field (256 bytes) can read past the end of the heap block.
    static func direntName(_ e: UnsafePointer<dirent>) -> UnsafeBufferPointer<UInt8> {
        let p = UnsafeRawPointer(e) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let n = strnlen(p.assumingMemoryBound(to: CChar.self), 256)   // NAME_MAX + 1: the field's size
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
    }

    /// Lists folders, remembering every folder it has listed. Paths are bytes, as the file system has them.
    private struct Walker {
        struct Entry { var raw: [UInt8]; var isDir: Bool; var key: [UInt64] = []; var name: String { ImageFolder.display(raw) } }
        var visited: Set<[UInt64]> = []
        var skipped: [Skipped] = []

        static func key(_ st: stat) -> [UInt64] { [UInt64(st.st_dev), UInt64(st.st_ino)] }

        /// The candidate files and folders of `dir` (`rel` is its path relative to the root); entries that are
        /// neither go to `skipped`. Folders carry their (device, inode), symlinks followed.
        mutating func entries(_ dir: [UInt8], rel: [UInt8]) throws -> [Entry] {
            guard let d = ImageFolder.withCPath(dir, { opendir($0) }) else {
                throw LdaeError("cannot list folder (\(String(cString: strerror(errno))))", file: ImageFolder.display(dir))
            }
            defer { closedir(d) }
            var out: [Entry] = []
            while let e = readdir(d) {
                let raw = Array(ImageFolder.direntName(e))
                if raw.first == 0x2E { continue }      // ".", ".." and hidden files
                let relName = rel.isEmpty ? raw : rel + [0x2F] + raw
                // d_type spares a stat per file; folders, symlinks and file systems without d_type are stat'ed.
                let type = Int32(e.pointee.d_type)
                if type == Int32(DT_REG) { out.append(Entry(raw: raw, isDir: false)); continue }
                let path = dir + [0x2F] + raw
                var st = stat()
                if ImageFolder.withCPath(path, { stat($0, &st) }) != 0 {
                    let err = errno
                    var lst = stat()
                    let isLink = ImageFolder.withCPath(path, { lstat($0, &lst) }) == 0 && (lst.st_mode & S_IFMT) == S_IFLNK
                    let why: SkipReason
                    switch (isLink, err) {
                    case (true, ELOOP): why = SkipReason("symlink", "symlink loop (it points to itself, directly or through other links)")
                    case (true, ENOENT): why = SkipReason("symlink", "dangling symlink (its target \(ImageFolder.linkTarget(path)) does not exist)")
                    default: why = SkipReason("unreadable", "cannot stat (\(String(cString: strerror(err))))")
                    }
                    skipped.append(Skipped(path: ImageFolder.display(relName), reason: why))
                    continue
                }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: out.append(Entry(raw: raw, isDir: true, key: Walker.key(st)))
                case S_IFREG: out.append(Entry(raw: raw, isDir: false))
                default: skipped.append(Skipped(path: ImageFolder.display(relName), reason: SkipReason("not_a_file", "not a regular file (a device, FIFO or socket)")))
                }
            }
            return out
        }

        /// Collects the files below `dir` recursively (paths relative to the root, `rel` being dir's). A folder
        /// already visited (a symlink to an ancestor, a cycle, or to a folder listed elsewhere) is skipped.
        mutating func walk(_ dir: [UInt8], rel: [UInt8], into out: inout [[UInt8]]) throws {
            for e in try entries(dir, rel: rel) {
                let r = rel + [0x2F] + e.raw
                if e.isDir {
                    if visited.contains(e.key) {
                        skipped.append(Skipped(path: ImageFolder.display(r), reason: SkipReason("symlink", "folder already listed (a symlink to an ancestor, a cycle, or to another listed folder: \(ImageFolder.linkTarget(dir + [0x2F] + e.raw)))")))
                        continue
                    }
                    visited.insert(e.key)
                    try walk(dir + [0x2F] + e.raw, rel: r, into: &out)
                } else {
                    out.append(r)
                }
            }
        }
    }

    /// What a symlink points to, for messages ("?" when it is not one).
    static func linkTarget(_ path: [UInt8]) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = withCPath(path) { readlink($0, &buf, buf.count - 1) }
        return n < 0 ? "?" : "'" + display(buf[0..<n].map { UInt8(bitPattern: $0) }) + "'"
    }

    /// Class names from `--class-names FILE`: an `index.json` (or a folder holding one) written by ldae-prep,
    /// or a text file with one class name per line.
    public static func loadClassNames(_ path: String) throws -> [String] {
        if FileUtil.isDirectory(path) || path.hasSuffix(".json") {
            let idx = try ShardIndex.load(path).index
            guard idx.labeled, !idx.classNames.isEmpty else { throw LdaeError("index has no class names (unlabeled data)", file: path) }
            return idx.classNames
        }
        let text = String(decoding: try FileUtil.read(path), as: UTF8.self)
        let names = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw LdaeError("no class names in file", file: path) }
        if Set(names).count != names.count { throw LdaeError("duplicate class names in file", file: path) }
        return names
    }

    /// The contiguous, deterministic block of file positions that part `i` of `n` (0-based) processes.
    /// Joining parts 0..<n in order gives exactly the full run's order.
    public static func partRange(count: Int, part i: Int, of n: Int) -> Range<Int> {
        (count * i / n)..<(count * (i + 1) / n)
    }
}
