import Foundation

/// `ldae-prep images`: an image folder -> HDF5 shards + index.json.
///
/// Pipeline: list files (deterministic order) -> batches of `batch` files decoded by `workers` threads into
/// per-file slots -> consumed in file order (so the output is byte-identical whatever `workers`) -> a shard is
/// written (temp name, then rename) every `shardSize` images -> a resume state `.ldae-prep-state.json` is
/// updated after each shard -> `index.json` last. A run killed at any moment leaves only complete shards, and
/// `resume` continues after the last one.
public enum Prep {
    public struct Options: Sendable {
        public var input: String
        public var out: String
        public var image: ImageProcessor.Settings
        public var shardSize = 10_000
        public var gzip: Int? = nil
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var resume = false
        public var failOnError = false
        public var maxSkipFraction = 0.01
        public var classNames: [String]? = nil
        public var classNamesSource: String? = nil
        public var part: (index: Int, count: Int)? = nil
        public var batch = 1024
        public var quiet = false
        /// Testing hook (env LDAE_PREP_STOP_AFTER_SHARDS): stop with an error after writing this many shards,
        /// leaving the folder as a killed run would.
        public var stopAfterShards: Int? = nil
        public init(input: String, out: String, image: ImageProcessor.Settings) {
            self.input = input; self.out = out; self.image = image
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

    @discardableResult
    public static func run(_ o: Options) throws -> Result {
        let t0 = Date()
        let g = o.image.geometry
        try checkSizes(imageSize: g.imageSize, patchSize: g.patchSize, shardSize: o.shardSize, batch: o.batch, workers: o.workers)
        let inAbs = URL(fileURLWithPath: o.input).standardizedFileURL.path, outAbs = URL(fileURLWithPath: o.out).standardizedFileURL.path
        if outAbs == inAbs || outAbs.hasPrefix(inAbs.hasSuffix("/") ? inAbs : inAbs + "/") {
            throw LdaeError("the output folder is inside the input folder (its shards would be read as images); choose another --out", file: o.out)
        }
        let folder = try ImageFolder(root: o.input, classNames: o.classNames)
        var files = folder.files
        if let p = o.part { files = Array(files[ImageFolder.partRange(count: files.count, part: p.index, of: p.count)]) }
        if folder.files.isEmpty { throw LdaeError("no files found (expected class subfolders of images, or images)", file: o.input) }
        var fh = SHA256()
        for f in files { fh.update(Data("\(f.label)\t\(f.path)\n".utf8)) }
        let filesSha = fh.finalize()
        let settings = settings(o)

        // What the listing found but cannot use (symlink loops, dangling links, files outside the class
        // folders, ...) is recorded once, by part 0, and counts like any skipped file; too many of them stop
        // the run before anything is created.
        let listed = (o.part?.index ?? 0) == 0 ? folder.skipped : []
        if let first = listed.first, o.failOnError || Double(listed.count) > o.maxSkipFraction * Double(files.count + listed.count) {
            throw LdaeError((o.failOnError ? "" : "\(listed.count) of \(files.count + listed.count) entries cannot be used, above --max-skip-fraction \(o.maxSkipFraction); ")
                            + "\(first.path): \(first.reason)" + (o.failOnError ? " (--on-error fail)" : ""), file: o.input)
        }
        let lock = try FolderLock.acquire(o.out, command: "ldae-prep images")
        defer { lock.release() }
        let statePath = o.out + "/" + stateFile, indexPath = o.out + "/" + ShardFormat.indexFile
        removeStaleTemporaries(o.out)
        var state = State(settings: settings, filesSha256: filesSha, nextFile: 0,
                          shards: [], skipped: listed.map { .init(path: $0.path, reason: $0.reason.description) },
                          skippedCounts: listed.reduce(into: [:]) { $0[$1.reason.category, default: 0] += 1 },
                          filesWithWarnings: 0, corruptDataWarnings: 0)
        if o.resume && FileUtil.exists(statePath) {
            let s = try JSON.read(State.self, path: statePath)
            if s.settings != settings {
                let diff = settings.keys.filter { settings[$0] != s.settings[$0] }.sorted()
                throw LdaeError("cannot resume: settings differ from the interrupted run (\(diff.joined(separator: ", ")))", file: statePath)
            }
            if s.filesSha256 != filesSha { throw LdaeError("cannot resume: the input files changed since the interrupted run", file: statePath) }
            for sh in s.shards where !FileUtil.exists(o.out + "/" + sh.file) {
                throw LdaeError("cannot resume: a shard recorded as complete is missing", file: o.out + "/" + sh.file)
            }
            state = s
        } else if FileUtil.exists(indexPath) || FileUtil.exists(statePath) || existingShards(o.out) > 0 {
            if o.resume, FileUtil.exists(indexPath) {
                let idx = try ShardIndex.load(indexPath).index
                guard idx.settings == settings else {
                    throw LdaeError("the folder holds a complete run with different settings; choose another --out", file: indexPath)
                }
                return Result(index: idx, elapsed: 0, resumedShards: idx.shards.count, alreadyComplete: true, ignoredTopLevel: folder.ignoredTopLevel)
            }
            throw LdaeError("output folder already holds shards; use --resume to continue an interrupted run, or choose an empty folder", file: o.out)
        }
        let resumed = state.shards.count
        let firstFile = state.nextFile

        // Buffers: the current shard, and one batch of decoded slots.
        let vpi = g.valuesPerImage
        var shardPatches = [UInt8](repeating: 0, count: min(o.shardSize, max(1, files.count - state.nextFile)) * vpi)
        var shardLabels: [Int32] = [], shardPaths: [String] = []
        shardLabels.reserveCapacity(o.shardSize); shardPaths.reserveCapacity(o.shardSize)
        let batch = max(1, min(o.batch, o.shardSize * 2))
        let slots = UnsafeMutablePointer<UInt8>.allocate(capacity: batch * vpi)
        defer { slots.deallocate() }
        let status = UnsafeMutablePointer<SlotStatus>.allocate(capacity: batch)
        status.initialize(repeating: .pending, count: batch)
        defer { status.deinitialize(count: batch); status.deallocate() }
        let workers = max(1, o.workers)
        let processors = (0..<workers).map { _ in ImageProcessor(o.image) }
        let writerOptions = ShardWriter.Options(geometry: g, resize: o.image.policy.rawValue, gzip: o.gzip, pngGamma: o.image.pngGamma)
        let skipLimit = o.maxSkipFraction * Double(files.count + listed.count)

        let progress = Progress("ldae-prep", total: files.count - state.nextFile, unit: "images")
        progress.quiet = o.quiet

        // Shards are written (HDF5 + sha256) on a serial background queue while the workers decode the next
        // images; at most one write is in flight. The resume state is saved after each shard, in order.
        let writer = DispatchQueue(label: "ldae-prep.shard-writer")
        let inFlight = DispatchSemaphore(value: 1)
        let box = WriterBox(written: state.shards)
        func flush(nextFile: Int) throws {
            if let e = box.error { throw e }
            let n = shardLabels.count
            let k = state.shards.count
            let file = ShardFormat.fileName(k)
            let patches = n == o.shardSize ? shardPatches : Array(shardPatches[0..<(n * vpi)])
            let labels = shardLabels, paths = shardPaths
            state.shards.append(.init(file: file, count: n, sha256: ""))
            state.nextFile = nextFile
            let snapshot = state
            shardLabels = []; shardPaths = []
            shardLabels.reserveCapacity(o.shardSize); shardPaths.reserveCapacity(o.shardSize)
            inFlight.wait()
            writer.async {
                defer { inFlight.signal() }
                if box.error != nil { return }
                do {
                    box.written.append(try ShardWriter.entry(o.out, file: file, options: writerOptions, patches: patches, labels: labels,
                                                             paths: paths, classNames: folder.classNames))
                    var s = snapshot
                    s.shards = box.written
                    try JSON.write(s, to: statePath)
                } catch { box.error = error }
            }
            if let k = o.stopAfterShards, state.shards.count - resumed >= k {
                writer.sync {}
                if let e = box.error { throw e }
                throw LdaeError("stopped after \(k) shard(s) as LDAE_PREP_STOP_AFTER_SHARDS asks (resume with --resume)", file: o.out)
            }
        }
        defer { writer.sync {} }

        var start = state.nextFile
        while start < files.count {
            let n = min(batch, files.count - start)
            decodeBatch(files: files, start: start, count: n, root: o.input, processors: processors,
                        slots: slots, vpi: vpi, status: status)
            for i in 0..<n {
                let f = files[start + i]
                switch status[i] {
                case .ok(let warnings):
                    let row = shardLabels.count
                    shardPatches.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: row * vpi).update(from: slots + i * vpi, count: vpi) }
                    shardLabels.append(f.label); shardPaths.append(f.path)
                    if warnings > 0 { state.filesWithWarnings += 1; state.corruptDataWarnings += warnings }
                    if shardLabels.count == o.shardSize { try flush(nextFile: start + i + 1) }
                case .skipped(let r):
                    if o.failOnError { throw LdaeError(r.description + " (--on-error fail)", file: o.input + "/" + f.path) }
                    state.skipped.append(.init(path: f.path, reason: r.description))
                    state.skippedCounts[r.category, default: 0] += 1
                    if Double(state.skipped.count) > skipLimit {
                        try? JSON.write(state.skipped, to: o.out + "/" + skippedFile)
                        throw LdaeError("\(state.skipped.count) of \(files.count + listed.count) files skipped, above --max-skip-fraction \(o.maxSkipFraction) (last: \(f.path): \(r)); every reason is in \(skippedFile)",
                                        file: o.out + "/" + skippedFile)
                    }
                case .pending:
                    preconditionFailure("slot \(i) not processed")
                }
                status[i] = .pending
            }
            start += n
            progress.advance(n)
        }
        if !shardLabels.isEmpty { try flush(nextFile: files.count) }
        writer.sync {}
        if let e = box.error { throw e }
        state.shards = box.written
        progress.finish()

        var idx = ShardIndex(imageSize: g.imageSize, patchSize: g.patchSize, channels: g.channels, resize: o.image.policy.rawValue,
                             labeled: folder.labeled, classNames: folder.classNames, shards: state.shards, settings: settings,
                             skippedCounts: state.skippedCounts, skipped: state.skipped)
        idx.filesRead = files.count + listed.count   // the listing's skipped entries count as read
        idx.filesWithWarnings = state.filesWithWarnings
        idx.corruptDataWarnings = state.corruptDataWarnings
        idx.emptyClasses = folder.emptyClasses
        if let p = o.part { idx.part = "\(p.index)/\(p.count)" }
        try idx.save(dir: o.out)
        unlink(statePath)
        unlink(o.out + "/" + skippedFile)
        return Result(index: idx, elapsed: Date().timeIntervalSince(t0), resumedShards: resumed, alreadyComplete: false,
                      ignoredTopLevel: folder.ignoredTopLevel, processedFiles: files.count - firstFile)
    }

    /// Written only on the writer queue (read by the main thread after `writer.sync {}` or as a stop signal).
    private final class WriterBox: @unchecked Sendable {
        var written: [ShardIndex.Shard]
        private var failure: Error?
        private let lock = NSLock()
        init(written: [ShardIndex.Shard]) { self.written = written }
        var error: Error? {
            get { lock.lock(); defer { lock.unlock() }; return failure }
            set { lock.lock(); failure = newValue; lock.unlock() }
        }
    }

    enum SlotStatus { case pending, ok(Int), skipped(SkipReason) }

    /// Pointers shared by the worker threads; each slot index is written by exactly one worker.
    private struct Shared: @unchecked Sendable {
        let slots: UnsafeMutablePointer<UInt8>
        let status: UnsafeMutablePointer<SlotStatus>
        let processors: [ImageProcessor]
        let paths: [[UInt8]]
        let lock: NSLock
        let next: UnsafeMutablePointer<Int>
    }

    /// Decodes files[start ..< start+count] into slots, `processors.count` threads taking chunks of 8.
    static func decodeBatch(files: [ImageFolder.File], start: Int, count: Int, root: String, processors: [ImageProcessor],
                            slots: UnsafeMutablePointer<UInt8>, vpi: Int, status: UnsafeMutablePointer<SlotStatus>) {
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        let sh = Shared(slots: slots, status: status, processors: processors,
                        paths: (start..<(start + count)).map { Array(root.utf8) + [0x2F] + files[$0].rawPath }, lock: NSLock(), next: next)
        let chunk = 8
        let work: @Sendable (Int) -> Void = { w in
            let proc = sh.processors[w]
            while true {
                sh.lock.lock()
                let a = sh.next.pointee
                sh.next.pointee = a + chunk
                sh.lock.unlock()
                if a >= count { return }
                for i in a..<min(a + chunk, count) {
                    do {
                        let info = try proc.process(rawPath: sh.paths[i], into: sh.slots + i * vpi)
                        sh.status[i] = .ok(info.warnings)
                    } catch let r as SkipReason {
                        sh.status[i] = .skipped(r)
                    } catch {
                        sh.status[i] = .skipped(SkipReason("unreadable", "\(error)"))
                    }
                }
            }
        }
        if processors.count == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: processors.count, execute: work) }
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
