import Foundation

/// Writes one shard file in the format declared in `ShardFormat`, atomically (temp name, then rename).
public enum ShardWriter {
    public struct Options: Sendable {
        public var geometry: PatchGeometry
        public var resize: String
        public var gzip: Int?
        public var chunkRows: Int
        /// How PNG gAMA chunks were treated (`PNGGamma`), the `png_gamma` attribute.
        public var pngGamma = PNGGamma.ignore.rawValue
        public init(geometry: PatchGeometry, resize: String = "crop", gzip: Int? = nil, chunkRows: Int = 256,
                    pngGamma: PNGGamma = .ignore) {
            self.geometry = geometry; self.resize = resize; self.gzip = gzip; self.chunkRows = chunkRows
            self.pngGamma = pngGamma.rawValue
        }
    }

    /// Writes a shard (see `write`) and returns its index entry: count, sha256 and size.
    public static func entry(_ dir: String, file: String, options o: Options, patches: [UInt8], labels: [Int32], paths: [String],
                             classNames: [String]) throws -> ShardIndex.Shard {
        let path = dir + "/" + file
        let sha = try write(path, options: o, patches: patches, labels: labels, paths: paths, classNames: classNames)
        return ShardIndex.Shard(file: file, count: labels.count, sha256: sha, bytes: FileUtil.size(path))
    }

    /// Writes `patches` [N, T, D] uint8, `labels` [N], `paths` [N] and `classNames`; returns the file's sha256.
    @discardableResult
    public static func write(_ path: String, options o: Options, patches: [UInt8], labels: [Int32], paths: [String],
                             classNames: [String]) throws -> String {
        let g = o.geometry
        let n = labels.count
        require(patches.count == n * g.valuesPerImage && paths.count == n)
        try H5File.write(atomically: path) { f in
            try f.setAttribute("format", FormatName.shard)
            try f.setAttribute("format_version", FormatVersion.shard)
            try f.setAttribute("image_size", g.imageSize)
            try f.setAttribute("patch_size", g.patchSize)
            try f.setAttribute("channels", g.channels)
            try f.setAttribute("resize", o.resize)
            let bg = Codecs.alphaBackground
            try f.setAttribute("alpha_background", "rgb(\(bg.0),\(bg.1),\(bg.2))")
            try f.setAttribute("png_gamma", o.pngGamma)
            try f.write(ShardFormat.patches, patches, shape: [n, g.tokens, g.tokenDim], chunkRows: o.chunkRows, gzip: o.gzip)
            try f.write(ShardFormat.labels, labels, shape: [n], chunkRows: max(o.chunkRows, 1024), gzip: o.gzip)
            try f.writeStrings(ShardFormat.classNames, classNames)
            try f.writeStrings(ShardFormat.paths, paths)
        }
        return try SHA256.hex(file: path)
    }
}

extension ShardIndex {
    /// Writes `DIR/index.json` atomically (always the last file a prep run writes).
    public func save(dir: String) throws { try JSON.write(self, to: dir + "/" + ShardFormat.indexFile) }
}
