import Foundation

/// Read access to one or more shard folders written by `ldae-prep` (each with its `index.json`).
/// Images are addressed by a global index 0..<count in index order.
public final class ShardSet: @unchecked Sendable {
    public struct Entry: Sendable {
        public let path: String
        public let count: Int
        public let start: Int   // global index of its first image
        /// What index.json records of the file: checked when it is first opened.
        public let sha256: String
        public let bytes: Int?
    }
    public let sources: [String]          // the index.json paths
    public let indices: [ShardIndex]
    public let geometry: PatchGeometry
    public let classNames: [String]
    public let labeled: Bool
    public let shards: [Entry]
    public let count: Int
    /// sha256 of the index file (or, for several, of their hashes joined by newlines).
    public let indexSHA256: String

    /// Opens shard folders (or index.json paths). All must share image size, patch size and channels.
    public init(_ paths: [String]) throws {
        guard !paths.isEmpty else { throw LdaeError("no shard folder given") }
        var idxs: [ShardIndex] = [], srcs: [String] = [], entries: [Entry] = [], hashes: [String] = []
        var start = 0
        var seen: [String: String] = [:]   // real path of each index.json -> as given
        for p in paths {
            let (idx, dir, path) = try ShardIndex.load(p)
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
            if let before = seen[real] {
                throw LdaeError("the same shard folder is given twice (also as \(before)): its images would count twice", file: p)
            }
            seen[real] = p
            if let g = idxs.first?.geometry, g != idx.geometry {
                throw LdaeError("shards have image_size \(idx.imageSize), patch_size \(idx.patchSize), channels \(idx.channels) but \(srcs[0]) has \(g.imageSize), \(g.patchSize), \(g.channels)", file: path)
            }
            if let first = idxs.first, first.labeled && idx.labeled && first.classNames != idx.classNames {
                throw LdaeError("class names differ from \(srcs[0])", file: path)
            }
            for s in idx.shards {
                let sp = dir + "/" + s.file
                guard let size = FileUtil.size(sp) else { throw LdaeError("shard listed in \(path) is missing", file: sp) }
                if let b = s.bytes, b != size {
                    throw LdaeError("shard is \(size) bytes but \(path) records \(b): it was changed after it was written (another writer?); prepare the folder again", file: sp)
                }
                entries.append(Entry(path: sp, count: s.count, start: start, sha256: s.sha256, bytes: s.bytes))
                start += s.count
            }
            hashes.append(try SHA256.hex(file: path))
            idxs.append(idx); srcs.append(path)
        }
        guard start > 0 else { throw LdaeError("the shard set is empty (0 images)", file: srcs[0]) }
        indices = idxs; sources = srcs; shards = entries; count = start
        geometry = idxs[0].geometry
        labeled = idxs.allSatisfy { $0.labeled }
        classNames = idxs[0].classNames
        indexSHA256 = hashes.count == 1 ? hashes[0] : SHA256.hex(Data(hashes.joined(separator: "\n").utf8))
    }

    public convenience init(_ path: String) throws { try self.init([path]) }

    private let verifyLock = NSLock()
    private var verified = Set<Int>()

    /// Checks shard i's sha256 against its index.json, once per ShardSet (the first time it is opened): a shard
    /// replaced or rewritten after the index was written (two writers in one folder) is refused by name.
    public func verify(shard i: Int) throws {
        verifyLock.lock(); defer { verifyLock.unlock() }
        if verified.contains(i) { return }
        let e = shards[i]
        if !e.sha256.isEmpty {
            let got = try SHA256.hex(file: e.path)
            guard got == e.sha256 else {
                throw LdaeError("shard does not match its index.json (sha256 \(got.prefix(12))..., index says \(e.sha256.prefix(12))...): it was changed after it was written (another writer?); prepare the folder again", file: e.path)
            }
        }
        verified.insert(i)
    }

    /// Opens one shard file and checks it against the index: sha256 (the first time), format attributes.
    public func open(shard i: Int) throws -> H5File {
        let e = shards[i]
        try verify(shard: i)
        let f = try H5File.open(e.path)
        let fmt = try f.stringAttribute("format")
        guard fmt == FormatName.shard else {
            throw LdaeError("not an ldae shard (format attribute is '\(fmt ?? "missing")')", file: e.path)
        }
        let v = try f.intAttribute("format_version") ?? -1
        guard v == FormatVersion.shard else {
            throw LdaeError("shard format_version \(v) is not supported (this build reads \(FormatVersion.shard))", file: e.path)
        }
        guard try f.intAttribute("image_size") == geometry.imageSize, try f.intAttribute("patch_size") == geometry.patchSize else {
            throw LdaeError("shard geometry does not match its index.json", file: e.path)
        }
        return f
    }

    /// Reads rows `range` (local to shard i) of patches [n, T, D] uint8 and labels [n].
    public func read(shard i: Int, rows range: Range<Int>) throws -> (patches: [UInt8], labels: [Int32]) {
        let f = try open(shard: i)
        defer { try? f.close() }
        let pd = try f.dataset(ShardFormat.patches)
        defer { pd.close() }
        guard pd.shape == [shards[i].count, geometry.tokens, geometry.tokenDim] else {
            throw LdaeError("patches has shape \(pd.shape), expected [\(shards[i].count), \(geometry.tokens), \(geometry.tokenDim)]", file: shards[i].path)
        }
        try pd.requireStored()
        guard let bytes = Checked.bytes(range.count, geometry.valuesPerImage) else {
            throw LdaeError("rows \(range) of patches are too many to read", file: shards[i].path)
        }
        var patches = [UInt8](repeating: 0, count: bytes)
        if !range.isEmpty { try patches.withUnsafeMutableBytes { try pd.read(rowStart: range.lowerBound, rows: range.count, into: $0.baseAddress!, as: UInt8.self) } }
        let ld = try f.dataset(ShardFormat.labels)
        defer { ld.close() }
        var labels = [Int32](repeating: -1, count: range.count)
        if !range.isEmpty { try labels.withUnsafeMutableBytes { try ld.read(rowStart: range.lowerBound, rows: range.count, into: $0.baseAddress!, as: Int32.self) } }
        return (patches, labels)
    }

    /// Reads a whole shard.
    public func read(shard i: Int) throws -> (patches: [UInt8], labels: [Int32]) {
        try read(shard: i, rows: 0..<shards[i].count)
    }

    /// All labels in global order.
    public func allLabels() throws -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for i in shards.indices {
            let f = try open(shard: i)
            let (l, _) = try f.read(ShardFormat.labels, as: Int32.self)
            try f.close()
            out += l
        }
        return out
    }

    /// Streams the set in order, `batch` images at a time: body(globalStart, patches [n,T,D], labels [n]).
    public func forEachBatch(_ batch: Int, _ body: (Int, [UInt8], [Int32]) throws -> Void) throws {
        for (i, e) in shards.enumerated() {
            var r = 0
            while r < e.count {
                let n = min(batch, e.count - r)
                let (p, l) = try read(shard: i, rows: r..<(r + n))
                try body(e.start + r, p, l)
                r += n
            }
        }
    }

    /// Which shard and local row hold global image `g`.
    public func locate(_ g: Int) -> (shard: Int, row: Int) {
        var lo = 0, hi = shards.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if shards[mid].start <= g { lo = mid } else { hi = mid - 1 }
        }
        return (lo, g - shards[lo].start)
    }
}
