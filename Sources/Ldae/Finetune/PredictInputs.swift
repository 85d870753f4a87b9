import Foundation

/// What `ldae-zoo predict` classifies: image files (given one by one, listed in a text file, or found in folders), or
/// the images of shard folders (`ldae-prep` output). The two kinds are not mixed in one run.
public struct PredictInputs {
    /// One image: its path as shown in the output, the true label's name where the input says (a class folder, a
    /// labelled shard), and where it is read from (a file path's bytes, or a shard set's global index).
    public struct Item: Sendable {
        public var path: String
        public var trueLabel: String?
        var file: [UInt8]?
        var shardIndex: Int?
        /// Known to be unreadable before any decoding (a dangling or looping link in a folder), with the reason.
        var error: String?
    }

    public var items: [Item]
    /// The shard set when the inputs are shard folders.
    public var shards: ShardSet?

    /// From the command line's inputs: each a shard folder (it holds index.json), an image folder (walked as
    /// `ldae-prep` walks it: class subfolders give the true label; top-level files of a class-folder layout are
    /// included, unlabelled), or a file; and `list`, a text file of image paths, one per line (blank lines and lines
    /// starting with # ignored; relative paths are relative to the current folder). `maxImages`: the first N.
    public static func resolve(_ args: [String], list: String?, maxImages: Int? = nil) throws -> PredictInputs {
        var files: [String] = args
        if let l = list {
            guard let d = FileManager.default.contents(atPath: l) else { throw LdaeError.system("cannot read the list", file: l) }
            for line in String(decoding: d, as: UTF8.self).split(whereSeparator: \.isNewline) {
                let s = line.trimmingCharacters(in: .whitespaces)
                if !s.isEmpty && !s.hasPrefix("#") { files.append(s) }
            }
        }
        guard !files.isEmpty else { throw UsageError("predict needs an INPUT: image files, folders, shard folders, or --list FILE") }
        let shardDirs = files.filter { FileUtil.isDirectory($0) && FileUtil.exists($0 + "/" + ShardFormat.indexFile) || $0.hasSuffix("/" + ShardFormat.indexFile) }
        if !shardDirs.isEmpty {
            guard shardDirs.count == files.count else {
                throw UsageError("predict takes either shard folders or image files and folders, not both (\(shardDirs[0]) is a shard folder, \(files.first { !shardDirs.contains($0) }!) is not)")
            }
            let set = try ShardSet(shardDirs)
            var paths: [String] = []
            for i in set.shards.indices {
                let f = try set.open(shard: i)
                defer { try? f.close() }
                let p = try f.readStrings(ShardFormat.paths)
                guard p.count == set.shards[i].count else { throw LdaeError("paths has \(p.count) entries for \(set.shards[i].count) images", file: set.shards[i].path) }
                paths += p
            }
            let labels = try set.allLabels()
            let n = min(set.count, maxImages ?? set.count)
            let items = (0..<n).map { g -> Item in
                let l = Int(labels[g])
                return Item(path: paths[g], trueLabel: set.labeled && l >= 0 && l < set.classNames.count ? set.classNames[l] : nil, shardIndex: g)
            }
            return PredictInputs(items: items, shards: set)
        }
        var items: [Item] = []
        for f in files {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: f, isDirectory: &isDir) else {
                items.append(Item(path: f, error: "no such file")); continue
            }
            guard isDir.boolValue else { items.append(Item(path: f, file: Array(f.utf8))); continue }
            let folder = try ImageFolder(root: f)
            let base = f.hasSuffix("/") ? String(f.dropLast()) : f
            var found = folder.files.map { Item(path: base + "/" + $0.path, trueLabel: folder.labeled ? folder.classNames[Int($0.label)] : nil,
                                                file: Array((base + "/").utf8) + $0.rawPath) }
            for s in folder.skipped {   // a class layout's top-level files are still images to classify
                if s.reason.category == "outside_class_folder" { found.append(Item(path: base + "/" + s.path, file: Array((base + "/" + s.path).utf8))) }
                else { found.append(Item(path: base + "/" + s.path, error: s.reason.description)) }
            }
            items += found
        }
        if let m = maxImages { items = Array(items.prefix(m)) }
        return PredictInputs(items: items, shards: nil)
    }
}
