import Foundation

/// The input of `ldae-prep images`: an ImageFolder layout (one subfolder per class, sorted names = label ids,
/// files found recursively inside each class folder) or a flat folder (unlabeled, label -1).
/// Hidden files and folders (`.DS_Store`, `.ipynb_checkpoints`, `._*`) are ignored. Every other regular file
/// is a candidate: the format is found later by magic bytes, and a non-image is skipped with its reason.
/// Order is deterministic: classes, then relative paths, by byte-wise (code point) comparison, as Python's sorted().
public struct ImageFolder: Sendable {
    public struct File: Sendable, Equatable {
        public var path: String      // relative to the root, "/"-separated
        public var label: Int32
    }
    public let root: String
    public let labeled: Bool
    public let classNames: [String]
    public let files: [File]
    /// Class folders with no candidate file.
    public let emptyClasses: [String]
    /// Regular files directly in a labeled root (ignored, as torchvision's ImageFolder does).
    public let ignoredTopLevel: Int

    static func byteLess(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
    static func isHidden(_ name: String) -> Bool { name.hasPrefix(".") }

    /// Lists `root`. `classNames`, when given, fixes the label ids (another split's list); a class folder
    /// not in it is an error.
    public init(root: String, classNames given: [String]? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else {
            throw LdaeError("no such folder", file: root)
        }
        guard isDir.boolValue else { throw LdaeError("not a folder (expected a folder of images)", file: root) }
        self.root = root
        let top = try ImageFolder.entries(root)
        let dirs = top.filter { $0.isDir }.map { $0.name }.sorted(by: ImageFolder.byteLess)
        let plain = top.filter { !$0.isDir }.map { $0.name }.sorted(by: ImageFolder.byteLess)
        if dirs.isEmpty {
            if let g = given, !g.isEmpty {
                throw LdaeError("--class-names was given but the folder has no class subfolders (a flat folder is unlabeled)", file: root)
            }
            labeled = false; classNames = []; emptyClasses = []; ignoredTopLevel = 0
            files = plain.map { File(path: $0, label: -1) }
            return
        }
        labeled = true
        ignoredTopLevel = plain.count
        let names: [String]
        if let g = given {
            for d in dirs where !g.contains(d) {
                throw LdaeError("class folder '\(d)' is not in the --class-names list (\(g.count) classes)", file: root + "/" + d)
            }
            names = g
        } else {
            names = dirs
        }
        classNames = names
        var out: [File] = [], empty: [String] = []
        for d in dirs {
            let label = Int32(names.firstIndex(of: d)!)
            var rel: [String] = []
            try ImageFolder.walk(root + "/" + d, prefix: d, into: &rel)
            if rel.isEmpty { empty.append(d) }
            rel.sort(by: ImageFolder.byteLess)
            out += rel.map { File(path: $0, label: label) }
        }
        files = out
        emptyClasses = empty
    }

    /// dev/ino are set for folders reached through a symlink (checked against the ancestors for loops).
    private struct Entry { var name: String; var isDir: Bool; var dev: UInt64 = 0; var ino: UInt64 = 0 }

    private static func entries(_ dir: String) throws -> [Entry] {
        guard let d = opendir(dir) else {
            throw LdaeError("cannot list folder (\(String(cString: strerror(errno))))", file: dir)
        }
        defer { closedir(d) }
        var out: [Entry] = []
        while let e = readdir(d) {
            let name = String(decoding: direntName(e), as: UTF8.self)
            if name == "." || name == ".." || isHidden(name) { continue }
            // d_type spares a stat per file; symlinks and file systems without d_type are stat'ed.
            let type = Int32(e.pointee.d_type)
            if type == Int32(DT_REG) { out.append(Entry(name: name, isDir: false)); continue }
            if type == Int32(DT_DIR) { out.append(Entry(name: name, isDir: true)); continue }   // real folder: no loop
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { continue }   // dangling symlink: not a candidate
            let mode = st.st_mode & S_IFMT
            if mode == S_IFDIR {
                out.append(Entry(name: name, isDir: true, dev: UInt64(st.st_dev), ino: UInt64(st.st_ino)))
            } else if mode == S_IFREG {
                out.append(Entry(name: name, isDir: false))
            }
        }
        return out
    }

    /// The bytes of a dirent's name, read in place up to its NUL. glibc packs entries tightly in readdir's
    /// buffer, so copying the whole fixed-size `d_name` field (256 bytes) can read past the end of the heap block.
    static func direntName(_ e: UnsafePointer<dirent>) -> UnsafeBufferPointer<UInt8> {
        let p = UnsafeRawPointer(e) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let n = strnlen(p.assumingMemoryBound(to: CChar.self), 256)   // NAME_MAX + 1: the field's size
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
    }

    /// Collects files below `dir` recursively; a symlinked folder already on the current path (a loop) is skipped.
    private static func walk(_ dir: String, prefix: String, into out: inout [String], ancestors: Set<[UInt64]> = []) throws {
        var st = stat()
        var path = ancestors
        if stat(dir, &st) == 0 { path.insert([UInt64(st.st_dev), UInt64(st.st_ino)]) }
        for e in try entries(dir) {
            if e.isDir {
                if e.ino != 0 && path.contains([e.dev, e.ino]) { continue }
                try walk(dir + "/" + e.name, prefix: prefix + "/" + e.name, into: &out, ancestors: path)
            } else {
                out.append(prefix + "/" + e.name)
            }
        }
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
