import Foundation

/// `ldae-prep merge PART... --out OUT`: joins the outputs of `--part i/n` runs (or any prep outputs with the
/// same settings) into one folder and one index. Shard files are hard-linked, not copied (a copy is made only
/// when OUT is on another file system), so patch data is never written twice.
public enum PrepMerge {
    public static func run(parts: [String], out: String) throws -> ShardIndex {
        guard !parts.isEmpty else { throw UsageError("merge needs at least one part folder") }
        var loaded: [(index: ShardIndex, dir: String, path: String)] = try parts.map { try ShardIndex.load($0) }
        // Order by part number when every input is a part of the same split.
        let partInfo = loaded.map { l -> (Int, Int)? in
            guard let p = l.index.part?.split(separator: "/"), p.count == 2, let i = Int(p[0]), let n = Int(p[1]) else { return nil }
            return (i, n)
        }
        if partInfo.allSatisfy({ $0 != nil }) {
            let info = partInfo.map { $0! }
            let n = info[0].1
            guard info.allSatisfy({ $0.1 == n }) else { throw LdaeError("parts come from splits of different sizes (--part i/n with different n)", file: loaded[0].path) }
            let have = Set(info.map { $0.0 })
            guard have.count == info.count else { throw LdaeError("the same part is given twice", file: loaded[0].path) }
            let missing = (0..<n).filter { !have.contains($0) }
            guard missing.isEmpty else {
                throw LdaeError("part(s) \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) missing from the merge", file: loaded[0].path)
            }
            loaded = zip(info, loaded).sorted { $0.0.0 < $1.0.0 }.map { $0.1 }
        }
        let first = loaded[0]
        var settings = first.index.settings
        settings["part"] = nil
        for l in loaded.dropFirst() {
            guard l.index.geometry == first.index.geometry, l.index.resize == first.index.resize else {
                throw LdaeError("image size, patch size or resize policy differs from \(first.path)", file: l.path)
            }
            guard l.index.labeled == first.index.labeled, l.index.classNames == first.index.classNames else {
                throw LdaeError("class names differ from \(first.path)", file: l.path)
            }
            var s = l.index.settings
            s["part"] = nil
            guard s == settings else {
                let diff = Set(s.keys).union(settings.keys).filter { s[$0] != settings[$0] }.sorted()
                throw LdaeError("prep settings differ from \(first.path) (\(diff.joined(separator: ", ")))", file: l.path)
            }
        }
        let lock = try FolderLock.acquire(out, command: "ldae-prep merge")
        defer { lock.release() }
        if FileUtil.exists(out + "/" + ShardFormat.indexFile) || Prep.existingShards(out) > 0 {
            throw LdaeError("output folder already holds shards; choose an empty folder", file: out)
        }
        var shards: [ShardIndex.Shard] = [], skipped: [ShardIndex.Skipped] = [], counts: [String: Int] = [:]
        var read = 0, warnFiles = 0, warnings = 0
        for l in loaded {
            for s in l.index.shards {
                let src = l.dir + "/" + s.file
                guard FileUtil.exists(src) else { throw LdaeError("shard listed in \(l.path) is missing", file: src) }
                let name = ShardFormat.fileName(shards.count)
                try linkOrCopy(src, out + "/" + name)
                shards.append(.init(file: name, count: s.count, sha256: s.sha256, bytes: s.bytes))
            }
            skipped += l.index.skipped
            for (k, v) in l.index.skippedCounts { counts[k, default: 0] += v }
            read += l.index.filesRead ?? (l.index.total + l.index.skipped.count)
            warnFiles += l.index.filesWithWarnings ?? 0
            warnings += l.index.corruptDataWarnings ?? 0
        }
        var idx = ShardIndex(imageSize: first.index.imageSize, patchSize: first.index.patchSize, channels: first.index.channels,
                             resize: first.index.resize, labeled: first.index.labeled, classNames: first.index.classNames,
                             shards: shards, settings: settings, skippedCounts: counts, skipped: skipped)
        idx.filesRead = read
        idx.filesWithWarnings = warnFiles
        idx.corruptDataWarnings = warnings
        idx.emptyClasses = first.index.emptyClasses
        idx.mergedFrom = loaded.map { URL(fileURLWithPath: $0.dir).standardizedFileURL.path }
        try idx.save(dir: out)
        return idx
    }

    /// Hard link `src` at `dst`; when that is impossible (another file system), copy it atomically.
    static func linkOrCopy(_ src: String, _ dst: String) throws {
        if link(src, dst) == 0 { return }
        let e = errno
        guard e == EXDEV || e == EPERM || e == EMLINK else {
            throw LdaeError("cannot link shard from \(src): \(String(cString: strerror(e)))", file: dst)
        }
        try AtomicFile.write(to: dst) { tmp in
            do { try FileManager.default.copyItem(atPath: src, toPath: tmp) } catch {
                throw LdaeError("cannot copy shard from \(src): \(error.localizedDescription)", file: dst)
            }
        }
    }
}
