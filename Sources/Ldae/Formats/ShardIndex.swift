import Foundation

/// `index.json` beside the shards: what was prepared, from what, with what settings, and what was skipped.
public struct ShardIndex: Codable, Sendable {
    public struct Shard: Codable, Sendable {
        public var file: String
        public var count: Int
        public var sha256: String
        /// The file's size in bytes (absent in indexes written before it was recorded).
        public var bytes: Int? = nil
        public init(file: String, count: Int, sha256: String, bytes: Int? = nil) {
            self.file = file; self.count = count; self.sha256 = sha256; self.bytes = bytes
        }
    }
    public struct Skipped: Codable, Sendable {
        public var path: String
        public var reason: String
        public init(path: String, reason: String) { self.path = path; self.reason = reason }
    }
    public var format: String = FormatName.index
    public var formatVersion: Int = FormatVersion.index
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public var resize: String
    public var labeled: Bool
    public var classNames: [String]
    public var shards: [Shard]
    public var total: Int
    /// The prep command's settings (flags), for provenance.
    public var settings: [String: String]
    public var skippedCounts: [String: Int]
    public var skipped: [Skipped]
    public var created: String
    // Optional fields written by ldae-prep (older or synthetic indexes may lack them).
    /// Files considered (read attempts), written + skipped.
    public var filesRead: Int? = nil
    /// Files decoded despite libjpeg "corrupt data" warnings, and the total number of warnings.
    public var filesWithWarnings: Int? = nil
    public var corruptDataWarnings: Int? = nil
    /// Class folders that held no file.
    public var emptyClasses: [String]? = nil
    /// "i/n" when this index covers part i (0-based) of n (`--part`), absent for a whole run or a merge.
    public var part: String? = nil
    /// For `ldae-prep merge`: the part folders joined, in order.
    public var mergedFrom: [String]? = nil

    public init(imageSize: Int, patchSize: Int, channels: Int, resize: String, labeled: Bool, classNames: [String],
                shards: [Shard], settings: [String: String], skippedCounts: [String: Int], skipped: [Skipped]) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.channels = channels; self.resize = resize
        self.labeled = labeled; self.classNames = classNames; self.shards = shards
        self.total = shards.reduce(0) { $0 + $1.count }
        self.settings = settings; self.skippedCounts = skippedCounts; self.skipped = skipped
        self.created = ISO8601DateFormatter().string(from: Date())
    }

    public var geometry: PatchGeometry { PatchGeometry(imageSize: imageSize, patchSize: patchSize, channels: channels) }

    /// Loads `DIR/index.json` (or the given json path), checking format name and version.
    public static func load(_ pathOrDir: String) throws -> (index: ShardIndex, dir: String, path: String) {
        let path = FileUtil.isDirectory(pathOrDir) ? pathOrDir + "/" + ShardFormat.indexFile : pathOrDir
        guard FileUtil.exists(path) else {
            throw LdaeError(FileUtil.isDirectory(pathOrDir) ? "no index.json: not a folder written by ldae-prep" : "no such file", file: path)
        }
        let data = try FileUtil.read(path)
        struct Head: Decodable { var format: String?; var formatVersion: Int? }
        let head = try JSON.decode(Head.self, from: data, file: path)
        guard head.format == FormatName.index else {
            throw LdaeError("not an ldae shard index (format is '\(head.format ?? "missing")', expected '\(FormatName.index)')", file: path)
        }
        guard head.formatVersion == FormatVersion.index else {
            throw LdaeError("shard index format_version \(head.formatVersion ?? -1) is not supported (this build reads \(FormatVersion.index))", file: path)
        }
        let idx = try JSON.decode(ShardIndex.self, from: data, file: path)
        try idx.validate(path)
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return (idx, dir, path)
    }

    /// The largest image side an index may declare (ldae-prep's --image-size is far below it).
    public static let maxImageSize = 1 << 16

    /// What readers rely on: a patch geometry that can be computed (S a multiple of p, sizes bounded, the values of
    /// one image counted without overflow), counts that add up to `total`, shard files named inside the folder.
    /// A bad index is one error naming it (it is something users copy from each other).
    func validate(_ path: String) throws {
        func bad(_ s: String) -> LdaeError { LdaeError("invalid shard index: \(s)", file: path) }
        guard patchSize >= 1, imageSize >= patchSize, imageSize <= ShardIndex.maxImageSize, imageSize % patchSize == 0 else {
            throw bad("image_size \(imageSize) must be a multiple of patch_size \(patchSize) in 1...\(ShardIndex.maxImageSize)")
        }
        guard (1...4).contains(channels) else { throw bad("channels \(channels) must be in 1...4") }
        guard Checked.count([geometry.tokens, geometry.tokenDim]) != nil else { throw bad("image_size \(imageSize) is too large") }
        var sum = 0
        for s in shards {
            guard s.count >= 0 else { throw bad("shard '\(s.file)' has a negative image count \(s.count)") }
            let (n, o) = sum.addingReportingOverflow(s.count)
            guard !o else { throw bad("the shards' image counts overflow") }
            sum = n
            let parts = s.file.split(separator: "/", omittingEmptySubsequences: false)
            guard !s.file.isEmpty, !s.file.hasPrefix("/"), !parts.contains("..") else {
                throw bad("shard file name '\(s.file)' is not a path inside the index's folder")
            }
            if let b = s.bytes, b < 0 { throw bad("shard '\(s.file)' has a negative size") }
        }
        guard sum == total else { throw bad("total \(total) is not the sum of the shards' counts (\(sum))") }
    }
}
