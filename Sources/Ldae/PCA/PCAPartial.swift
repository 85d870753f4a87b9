import Foundation

/// One part's exact PCA sums (`ldae-fit-pca SHARDS --part i/n --partial OUT.h5`, format "ldae-pca-part"): the
/// patches of a contiguous block of images (`ImageFolder.partRange`, as `ldae-prep --part` splits files), summed
/// as integers of v - 128 (v the uint8 value) in float64, where they are exact. Parts therefore add up to the
/// whole run's sums bit for bit, in any split, and `combine` (PCACombine.swift) gives the whole run's basis.
///
/// The file (HDF5, plain datasets and root attributes, readable in h5py):
/// - `sum` float64 [D]: sum over the part's patches of (v - 128); `sum_outer` float64 [D, D] (symmetric): sum of
///   (v - 128)(v - 128)^T;
/// - attributes: `format`, `format_version`, `part`, `parts`, `image_start`, `image_end`, `images_total`, `count`
///   (patches summed), `index_sha256`, `index_paths`, `image_size`, `patch_size`, `channels`, `tokens`, `dim`,
///   `max_patches` (-1: every patch), `seed`, `pixel_scaling`, `value_offset` (128), `value_scale` (127.5),
///   `fit_identity` (the whole fit's, recorded in the combined pca.h5).
public struct PCAPartialSums: SplitPart, Sendable {
    public var part: Int
    public var parts: Int
    /// The part's global images (image_start..<image_end) of `imagesTotal`.
    public var images: Range<Int>
    public var imagesTotal: Int
    public var geometry: PatchGeometry
    public var indexSHA256: String
    /// The index.json files read (provenance only; the sha256 identifies the data).
    public var indexPaths: [String]
    public var maxPatches: Int?
    public var seed: UInt64
    /// `PCAResumeState.identity` of the whole fit these sums are a part of.
    public var fitIdentity: String
    /// The byte moments (exact integers); the float moments stay empty.
    public var accumulator: CovarianceAccumulator

    /// Patches are summed as v - valueOffset; the pixel scaling is x = (v - valueOffset) / valueScale + (valueOffset / valueScale - 1).
    public static let valueOffset = 128.0
    public static let valueScale = 127.5

    /// Accumulates part `part` of `parts` of `set` (with the whole fit's subsample, if any).
    public static func accumulate(_ set: ShardSet, part: Int, of parts: Int, maxPatches: Int? = nil, seed: UInt64 = 0,
                                  progress: ProgressLine? = nil, checkpointing: PCACheckpointing? = nil,
                                  chunkImages: Int? = nil) throws -> PCAPartialSums {
        require(parts >= 1 && part >= 0 && part < parts)
        let range = ImageFolder.partRange(count: set.count, part: part, of: parts)
        let acc = try PCAStream.accumulate(set, images: range, maxPatches: maxPatches, seed: seed, progress: progress,
                                           checkpointing: checkpointing, chunkImages: chunkImages)
        return PCAPartialSums(part: part, parts: parts, images: range, imagesTotal: set.count, geometry: set.geometry,
                              indexSHA256: set.indexSHA256, indexPaths: set.sources, maxPatches: maxPatches, seed: seed,
                              fitIdentity: PCAResumeState.identity(set, maxPatches: maxPatches, seed: seed), accumulator: acc)
    }


    public func save(_ path: String) throws {
        let a = accumulator, D = a.dim
        require(a.moments.count == 0 && D == geometry.tokenDim, "PCAPartialSums: only exact byte sums are written")
        var outer = a.byteGram   // upper triangle -> the full symmetric matrix
        for i in 0..<D { for j in 0..<i { outer[i * D + j] = outer[j * D + i] } }
        try H5File.write(atomically: path) { f in
            try f.setAttribute("format", FormatName.pcaPart)
            try f.setAttribute("format_version", FormatVersion.pcaPart)
            for (k, v) in [("part", part), ("parts", parts), ("image_start", images.lowerBound), ("image_end", images.upperBound),
                           ("images_total", imagesTotal), ("count", a.byteCount), ("image_size", geometry.imageSize),
                           ("patch_size", geometry.patchSize), ("channels", geometry.channels), ("tokens", geometry.tokens),
                           ("dim", D), ("max_patches", maxPatches ?? -1), ("seed", Int(truncatingIfNeeded: seed))] {
                try f.setAttribute(k, v)
            }
            try f.setAttribute("index_sha256", indexSHA256)
            try f.setAttribute("index_paths", indexPaths.joined(separator: "\n"))
            try f.setAttribute("pixel_scaling", PixelScaling.name)
            try f.setAttribute("value_offset", PCAPartialSums.valueOffset)
            try f.setAttribute("value_scale", PCAPartialSums.valueScale)
            try f.setAttribute("fit_identity", fitIdentity)
            try f.write("sum", a.byteSum, shape: [D])
            try f.write("sum_outer", outer, shape: [D, D])
        }
    }

    public static func load(_ path: String) throws -> PCAPartialSums {
        let f = try H5File.open(path)
        defer { try? f.close() }
        guard try f.stringAttribute("format") == FormatName.pcaPart else {
            throw LdaeError("not an ldae-fit-pca partial-sum file (format attribute is not '\(FormatName.pcaPart)')", file: path)
        }
        let v = try f.intAttribute("format_version") ?? -1
        guard v == FormatVersion.pcaPart else {
            throw LdaeError("partial-sum format_version \(v) is not supported (this build reads \(FormatVersion.pcaPart))", file: path)
        }
        func int(_ n: String) throws -> Int {
            guard let x = try f.intAttribute(n) else { throw LdaeError("partial-sum file lacks attribute '\(n)'", file: path) }
            return x
        }
        func string(_ n: String) throws -> String {
            guard let x = try f.stringAttribute(n) else { throw LdaeError("partial-sum file lacks attribute '\(n)'", file: path) }
            return x
        }
        let (part, parts, start, end, total) = (try int("part"), try int("parts"), try int("image_start"), try int("image_end"), try int("images_total"))
        guard parts >= 1, part >= 0, part < parts, total >= 1 else {
            throw LdaeError("partial-sum file says part \(part)/\(parts) of \(total) images", file: path)
        }
        let range = ImageFolder.partRange(count: total, part: part, of: parts)
        guard start == range.lowerBound, end == range.upperBound else {
            throw LdaeError("images \(start)..<\(end) are not part \(part)/\(parts) of \(total) images (\(range))", file: path)
        }
        let g = PatchGeometry(imageSize: try int("image_size"), patchSize: try int("patch_size"), channels: try int("channels"))
        let D = try int("dim"), count = try int("count")
        guard g.patchSize >= 1, g.channels >= 1, g.imageSize % g.patchSize == 0, D == g.tokenDim, try int("tokens") == g.tokens else {
            throw LdaeError("inconsistent geometry: image_size \(g.imageSize), patch_size \(g.patchSize), channels \(g.channels), dim \(D)", file: path)
        }
        guard count >= 0, count <= (end - start) * g.tokens else {
            throw LdaeError("count \(count) is not between 0 and the part's \((end - start) * g.tokens) patches", file: path)
        }
        guard try string("pixel_scaling") == PixelScaling.name,
              try f.doubleAttribute("value_offset") == valueOffset, try f.doubleAttribute("value_scale") == valueScale else {
            throw LdaeError("pixel scaling or value offset is not this build's (\(PixelScaling.name), v - \(Int(valueOffset)))", file: path)
        }
        var a = CovarianceAccumulator(dim: D)
        a.byteCount = count
        a.byteSum = try float64(f, "sum", shape: [D])
        let outer = try float64(f, "sum_outer", shape: [D, D])
        for i in 0..<D { for j in 0..<i where outer[i * D + j] != outer[j * D + i] {
            throw LdaeError("sum_outer is not symmetric at [\(i), \(j)]", file: path)
        } }
        for i in 0..<D { for j in i..<D { a.byteGram[i * D + j] = outer[i * D + j] } }   // the accumulator keeps the upper triangle
        let mp = try int("max_patches")
        guard mp >= 0 || count == (end - start) * g.tokens else {
            throw LdaeError("count \(count) is not the part's \((end - start) * g.tokens) patches (every patch is summed without --max-patches)", file: path)
        }
        return PCAPartialSums(part: part, parts: parts, images: start..<end, imagesTotal: total, geometry: g,
                              indexSHA256: try string("index_sha256"),
                              indexPaths: try string("index_paths").split(separator: "\n").map(String.init),
                              maxPatches: mp < 0 ? nil : mp, seed: UInt64(truncatingIfNeeded: try int("seed")),
                              fitIdentity: try string("fit_identity"), accumulator: a)
    }

    /// A float64 dataset of exactly `shape` (stored as float64: a narrower type would not hold the sums exactly).
    static func float64(_ f: H5File, _ name: String, shape: [Int]) throws -> [Double] {
        let d = try f.dataset(name)
        let e = d.elementDescription
        d.close()
        guard e.isFloat && e.size == 8 else { throw LdaeError("dataset '\(name)' is not float64", file: f.path) }
        let (v, s) = try f.read(name, as: Double.self)
        guard s == shape else { throw LdaeError("dataset '\(name)' has shape \(s), expected \(shape)", file: f.path) }
        return v
    }
}
