import Foundation

/// `ldae-prep images`: an image folder -> HDF5 shards + index.json.
///
/// Pipeline: list files (deterministic order) -> batches of `batch` files decoded by `workers` threads into
/// per-file slots -> consumed in file order (so the output is byte-identical whatever `workers`) -> a shard is
/// written (temp name, then rename) every `shardSize` images -> a resume state `.ldae-prep-state.json` is
/// updated after each shard -> `index.json` last. A run killed at any moment leaves only complete shards, and
/// `resume` continues after the last one.
/// How shards' datasets are stored (`--compress`): as they are, or gzip level 4.
public enum Compression: String, MethodOption { case none, gzip }

/// What a file that cannot be used does to a prep run (`--on-error`): skipped with its reason, or the end of the run.
public enum OnError: String, MethodOption { case skip, fail }

public enum Prep {
    public struct Options: Sendable {
        public var input: String
        public var out: String
        public var image: ImageProcessor.Settings
        public var shardSize = 10_000
        public var compress: Compression = .none
        /// The gzip level of `compress` (nil: none).
        public var gzip: Int? { compress == .gzip ? 4 : nil }
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var resume = false
        public var onError: OnError = .skip
        public var failOnError: Bool { onError == .fail }
        public var maxSkipFraction = 0.01
        public var classNames: [String]? = nil
        public var classNamesSource: String? = nil
        public var part: (index: Int, count: Int)? = nil
        public var batch = 1024
        public var quiet = false
        /// Stop with an error after writing this many shards, leaving the folder as a killed run would (to try
        /// `resume`; `--stop-after-shards`).
        public var stopAfterShards: Int? = nil
        public init(input: String, out: String, image: ImageProcessor.Settings) {
            self.input = input; self.out = out; self.image = image
        }

        /// The options' ranges, as usage errors naming the flag.
        public func validate() throws {
            guard image.maxPixels > 0 else { throw UsageError("--max-pixels must be positive") }
            guard shardSize > 0 else { throw UsageError("--shard-size must be positive") }
            guard workers >= 1 else { throw UsageError("--workers must be at least 1") }
            guard (0...1).contains(maxSkipFraction) else { throw UsageError("--max-skip-fraction must be between 0 and 1") }
            if let k = stopAfterShards, k < 1 { throw UsageError("--stop-after-shards must be at least 1") }
        }
    }

    public struct Result: Sendable {
        public var index: ShardIndex
        public var elapsed: Double
        public var resumedShards: Int
        public var alreadyComplete: Bool
        public var ignoredTopLevel: Int
        /// Files decoded by this invocation (fewer than `index.filesRead` after --resume).
        public var processedFiles: Int = 0
    }

    /// What `--resume` needs to continue: written after every shard.
    struct State: Codable {
        var format = "ldae-prep-state"
        var settings: [String: String]
        var filesSha256: String
        var nextFile: Int
        var shards: [ShardIndex.Shard]
        var skipped: [ShardIndex.Skipped]
        var skippedCounts: [String: Int]
        var filesWithWarnings: Int
        var corruptDataWarnings: Int
    }

    public static let stateFile = ".ldae-prep-state.json"
    public static let skippedFile = "skipped.json"

    public static func settings(_ o: Options) -> [String: String] {
        let bg = Codecs.alphaBackground
        var s: [String: String] = [
            "source": URL(fileURLWithPath: o.input).standardizedFileURL.path,
            "image_size": "\(o.image.geometry.imageSize)", "patch_size": "\(o.image.geometry.patchSize)",
            "resize": o.image.policy.rawValue, "filter": o.image.filter.rawValue,
            "max_pixels": "\(o.image.maxPixels)", "shard_size": "\(o.shardSize)", "png_gamma": o.image.pngGamma.rawValue,
            "compress": o.gzip.map { "gzip-\($0)" } ?? "none",
            "alpha_background": "rgb(\(bg.0),\(bg.1),\(bg.2))", "pixel_scaling_downstream": PixelScaling.name,
            "jpeg_dct_scaling": "largest 1/2^k keeping the shorter side >= image_size",
        ]
        if let p = o.part { s["part"] = "\(p.index)/\(p.count)" }
        if let c = o.classNamesSource { s["class_names_from"] = c }
        return s
    }

    /// The largest `--size`: one image is then 48 MB of patches (4096 x 4096 x 3), 1024^2 tokens of patch 4.
    /// Beyond that a single image's buffers alone are hundreds of MB and the resize takes seconds per image.
    public static let maxImageSize = 4096

    /// The memory prep may plan for: half of this machine's physical memory.
    public static var memoryBudget: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size / 2 : 4 << 30
    }

    /// Bytes of the buffers `run` allocates for these options: the shard being filled and the one being
    /// written (2 x shard-size images), one batch of decoded slots, one resized image per worker.
    public static func memoryNeeded(imageSize s: Int, shardSize: Int, batch: Int, workers: Int) -> Int {
        let vpi = s * s * 3
        let batch = max(1, min(batch, shardSize * 2))
        let (n, o1) = (2 * shardSize).addingReportingOverflow(batch + max(1, workers))
        let (bytes, o2) = n.multipliedReportingOverflow(by: vpi)
        return o1 || o2 ? Int.max : bytes
    }

    /// Refuses sizes that cannot work before anything is read or created: --size above `maxImageSize`, or
    /// buffers above `memoryBudget` (with the budget and what would fit in the message).
    public static func checkSizes(imageSize s: Int, patchSize p: Int, shardSize: Int, batch: Int = 1024, workers: Int) throws {
        guard s > 0, p > 0, s % p == 0 else { throw UsageError("--size \(s) must be a positive multiple of --patch \(p)") }
        guard s <= maxImageSize else {
            throw UsageError("--size \(s) is above ldae-prep's limit of \(maxImageSize) (one \(s) x \(s) image would be \(Prep.gb(Double(s) * Double(s) * 3)) of patches)")
        }
        guard shardSize > 0 else { throw UsageError("--shard-size must be positive") }
        let need = memoryNeeded(imageSize: s, shardSize: shardSize, batch: batch, workers: workers), budget = memoryBudget
        guard need <= budget else {
            let fit = max(0, (budget / (s * s * 3) - min(batch, shardSize * 2) - max(1, workers)) / 2)
            throw UsageError("--size \(s) with --shard-size \(shardSize) needs about \(Prep.gb(Double(need))) of buffers, above the budget of \(Prep.gb(Double(budget))) (half this machine's memory)"
                             + (fit > 0 ? "; use --shard-size \(fit) or less, or a smaller --size" : "; use a smaller --size"))
        }
    }

    static func gb(_ bytes: Double) -> String { bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : String(format: "%.0f MB", bytes / 1e6) }

    /// The whole pipeline, as named steps.
    @discardableResult
    public static func run(_ o: Options) throws -> Result {
        let t0 = Date()
        try o.validate()
        let g = o.image.geometry
        try checkSizes(imageSize: g.imageSize, patchSize: g.patchSize, shardSize: o.shardSize, batch: o.batch, workers: o.workers)
        let input = try PrepInput.list(o)
        try input.refuseTooManyUnusable(o)
        let lock = try FolderLock.acquire(o.out, command: "ldae-prep images")
        defer { lock.release() }
        removeStaleTemporaries(o.out)
        let start: State
        switch try PrepInput.startOrResume(o, input) {
        case .done(let r): return r
        case .from(let s): start = s
        }
        let run = PrepRun(o, input, state: start)
        try run.decodeAndWriteShards()
        let idx = try run.writeIndex()
        return Result(index: idx, elapsed: Date().timeIntervalSince(t0), resumedShards: start.shards.count, alreadyComplete: false,
                      ignoredTopLevel: input.folder.ignoredTopLevel, processedFiles: input.files.count - start.nextFile)
    }

    static func existingShards(_ dir: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("shard-") && $0.hasSuffix(".h5") }.count
    }

    /// Removes temporary files a killed run left (`.NAME.tmp-PID`, see AtomicFile).
    static func removeStaleTemporaries(_ dir: String) {
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix(".") && f.contains(".tmp-") {
            unlink(dir + "/" + f)
        }
    }
}
