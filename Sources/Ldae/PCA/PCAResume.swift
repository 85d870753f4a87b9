import Foundation

/// The state of an interrupted `ldae-fit-pca` run, saved atomically beside the output as
/// `<out>.resume.h5` (HDF5, format "ldae-pca-resume"): where the stream stopped and the accumulated
/// moments. The uint8 path is exact, so a resumed fit gives the same basis, bit for bit, as an
/// uninterrupted one.
public struct PCAResumeState: Sendable {
    public static let format = "ldae-pca-resume"
    public static let version = 1

    /// Identifies the data and settings the state belongs to (index sha256, D, subsample size, seed).
    public var identity: String
    /// The next chunk to read: shard index and row in it.
    public var shard: Int
    public var row: Int
    /// Patches passed so far in global order (the sampler's position) and images done.
    public var patchesSeen: Int
    public var imagesDone: Int
    public var accumulator: CovarianceAccumulator

    /// `images`: the part of the set a `--part` run accumulates (nil: all; the whole fit's identity, which
    /// `pca.h5` records as `fit_identity`).
    public static func identity(_ set: ShardSet, maxPatches: Int?, seed: UInt64, images: Range<Int>? = nil) -> String {
        "index_sha256=\(set.indexSHA256) D=\(set.geometry.tokenDim) tokens=\(set.geometry.tokens) images=\(set.count)"
            + " max_patches=\(maxPatches.map(String.init) ?? "all") seed=\(seed)"
            + (images.map { " part_images=\($0.lowerBound)..<\($0.upperBound)" } ?? "")
    }

    /// `<out>.resume.h5`
    public static func path(for output: String) -> String { output + ".resume.h5" }

    public func save(_ path: String) throws {
        let a = accumulator, D = a.dim
        try H5File.write(atomically: path) { f in
            try f.setAttribute("format", PCAResumeState.format)
            try f.setAttribute("format_version", PCAResumeState.version)
            try f.setAttribute("identity", identity)
            try f.setAttribute("shard", shard)
            try f.setAttribute("row", row)
            try f.setAttribute("patches_seen", patchesSeen)
            try f.setAttribute("images_done", imagesDone)
            try f.setAttribute("dim", D)
            try f.setAttribute("moments_count", a.moments.count)
            try f.setAttribute("byte_count", a.byteCount)
            try f.write("moments_shift", a.moments.shift ?? [Double](repeating: 0, count: D), shape: [D])
            try f.write("moments_sum", a.moments.sum, shape: [D])
            try f.write("moments_gram", a.moments.gram, shape: [D, D])
            try f.write("byte_sum", a.byteSum, shape: [D])
            try f.write("byte_gram", a.byteGram, shape: [D, D])
        }
    }

    public static func load(_ path: String) throws -> PCAResumeState {
        let f = try H5File.open(path)
        defer { try? f.close() }
        guard try f.stringAttribute("format") == format, try f.intAttribute("format_version") == version else {
            throw LdaeError("not an ldae-fit-pca resume file (or another version)", file: path)
        }
        func int(_ n: String) throws -> Int {
            guard let v = try f.intAttribute(n) else { throw LdaeError("resume file lacks attribute '\(n)'", file: path) }
            return v
        }
        let D = try int("dim")
        guard D > 0 else { throw LdaeError("resume file has dim \(D)", file: path) }
        var a = CovarianceAccumulator(dim: D)
        func vec(_ n: String, _ count: Int) throws -> [Double] {
            let (v, _) = try f.read(n, as: Double.self)
            guard v.count == count else { throw LdaeError("resume dataset '\(n)' has \(v.count) values, expected \(count)", file: path) }
            return v
        }
        a.moments.count = try int("moments_count")
        a.moments.shift = a.moments.count > 0 ? try vec("moments_shift", D) : nil
        a.moments.sum = try vec("moments_sum", D)
        a.moments.gram = try vec("moments_gram", D * D)
        a.byteCount = try int("byte_count")
        a.byteSum = try vec("byte_sum", D)
        a.byteGram = try vec("byte_gram", D * D)
        return PCAResumeState(identity: try f.stringAttribute("identity") ?? "", shard: try int("shard"), row: try int("row"),
                              patchesSeen: try int("patches_seen"), imagesDone: try int("images_done"), accumulator: a)
    }
}

/// How `PCAStream.accumulate` saves and restores its state.
public struct PCACheckpointing: Sendable {
    /// The resume file (`PCAResumeState.path(for: out)`).
    public var path: String
    /// Seconds between saves (0: after every chunk).
    public var interval: Double
    /// Continue from `path` when it exists (it must belong to the same data and settings).
    public var resume: Bool
    /// Tests: stop with an error after this many chunks (after saving), as an interruption would.
    var stopAfterChunks: Int? = nil
    public init(path: String, interval: Double = 60, resume: Bool) {
        self.path = path; self.interval = interval; self.resume = resume
    }
}
