import Foundation

/// `Prep.run`'s main steps: decode the files batch by batch in parallel, fill shards in file order, write each one
/// (on a serial background queue, at most one in flight) and the resume state after it; then the index.
final class PrepRun {
    let o: Prep.Options
    let input: PrepInput
    var state: Prep.State
    let resumedShards: Int
    let geometry: PatchGeometry
    var statePath: String { o.out + "/" + Prep.stateFile }

    // the shard being filled: patches [shardSize, T, D] uint8, its labels and paths
    private var patches: [UInt8]
    private var labels: [Int32] = []
    private var paths: [String] = []
    private let writer = DispatchQueue(label: "ldae-prep.shard-writer")
    private let inFlight = DispatchSemaphore(value: 1)
    private let box: WriterBox

    init(_ o: Prep.Options, _ input: PrepInput, state: Prep.State) {
        self.o = o; self.input = input; self.state = state
        resumedShards = state.shards.count
        geometry = o.image.geometry
        patches = [UInt8](repeating: 0, count: min(o.shardSize, max(1, input.files.count - state.nextFile)) * geometry.valuesPerImage)
        box = WriterBox(written: state.shards)
        startShard()
    }

    private func startShard() {
        labels = []; paths = []
        labels.reserveCapacity(o.shardSize); paths.reserveCapacity(o.shardSize)
    }

    /// Decodes every file from `state.nextFile` on into shards; skipped files are recorded with their reason, and
    /// too many of them stop the run (every reason in skipped.json).
    func decodeAndWriteShards() throws {
        defer { writer.sync {} }
        let files = input.files, vpi = geometry.valuesPerImage
        let batch = max(1, min(o.batch, o.shardSize * 2))
        let slots = UnsafeMutablePointer<UInt8>.allocate(capacity: batch * vpi)
        defer { slots.deallocate() }
        let status = UnsafeMutablePointer<Prep.SlotStatus>.allocate(capacity: batch)
        status.initialize(repeating: .pending, count: batch)
        defer { status.deinitialize(count: batch); status.deallocate() }
        let processors = (0..<max(1, o.workers)).map { _ in ImageProcessor(o.image) }
        let skipLimit = o.maxSkipFraction * Double(input.entries)
        let progress = ProgressLine("ldae-prep", total: files.count - state.nextFile, unit: "images")
        progress.quiet = o.quiet

        var start = state.nextFile
        while start < files.count {
            let n = min(batch, files.count - start)
            Prep.decodeBatch(files: files, start: start, count: n, root: o.input, processors: processors,
                             slots: slots, vpi: vpi, status: status)
            for i in 0..<n {
                let f = files[start + i]
                switch status[i] {
                case .ok(let warnings):
                    let row = labels.count
                    patches.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: row * vpi).update(from: slots + i * vpi, count: vpi) }
                    labels.append(f.label); paths.append(f.path)
                    if warnings > 0 { state.filesWithWarnings += 1; state.corruptDataWarnings += warnings }
                    if labels.count == o.shardSize { try writeShard(nextFile: start + i + 1) }
                case .skipped(let r):
                    if o.failOnError { throw LdaeError(r.description + " (--on-error fail)", file: o.input + "/" + f.path) }
                    state.skipped.append(.init(path: f.path, reason: r.description))
                    state.skippedCounts[r.category, default: 0] += 1
                    if Double(state.skipped.count) > skipLimit {
                        try? JSON.write(state.skipped, to: o.out + "/" + Prep.skippedFile)
                        throw LdaeError("\(state.skipped.count) of \(input.entries) files skipped, above --max-skip-fraction \(o.maxSkipFraction) (last: \(f.path): \(r)); every reason is in \(Prep.skippedFile)",
                                        file: o.out + "/" + Prep.skippedFile)
                    }
                case .pending:
                    fatalError("slot \(i) not processed")
                }
                status[i] = .pending
            }
            start += n
            progress.advance(n)
        }
        if !labels.isEmpty { try writeShard(nextFile: files.count) }
        writer.sync {}
        if let e = box.error { throw e }
        state.shards = box.written
        progress.finish()
    }

    /// Hands the filled shard to the writer queue (waiting for the previous write) and starts the next one; the
    /// resume state saved after the write records it. `stopAfterShards` stops here.
    private func writeShard(nextFile: Int) throws {
        if let e = box.error { throw e }
        let n = labels.count, vpi = geometry.valuesPerImage
        let file = ShardFormat.fileName(state.shards.count)
        let shardPatches = n == o.shardSize ? patches : Array(patches[0..<(n * vpi)])
        let shardLabels = labels, shardPaths = paths
        state.shards.append(.init(file: file, count: n, sha256: ""))
        state.nextFile = nextFile
        let snapshot = state
        startShard()
        let out = o.out, statePath = statePath, box = box, classNames = input.folder.classNames, inFlight = inFlight
        let options = ShardWriter.Options(geometry: geometry, resize: o.image.policy.rawValue, gzip: o.gzip, pngGamma: o.image.pngGamma)
        inFlight.wait()
        writer.async {
            defer { inFlight.signal() }
            if box.error != nil { return }
            do {
                box.written.append(try ShardWriter.entry(out, file: file, options: options, patches: shardPatches,
                                                         labels: shardLabels, paths: shardPaths, classNames: classNames))
                var s = snapshot
                s.shards = box.written
                try JSON.write(s, to: statePath)
            } catch { box.error = error }
        }
        if let k = o.stopAfterShards, state.shards.count - resumedShards >= k {
            writer.sync {}
            if let e = box.error { throw e }
            throw LdaeError("stopped after \(k) shard(s) as --stop-after-shards asks (resume with --resume)", file: o.out)
        }
    }

    /// index.json last (the folder is complete once it exists); the resume state and skipped.json go.
    func writeIndex() throws -> ShardIndex {
        let g = geometry, folder = input.folder
        var idx = ShardIndex(imageSize: g.imageSize, patchSize: g.patchSize, channels: g.channels, resize: o.image.policy.rawValue,
                             labeled: folder.labeled, classNames: folder.classNames, shards: state.shards, settings: input.settings,
                             skippedCounts: state.skippedCounts, skipped: state.skipped)
        idx.filesRead = input.entries   // the listing's skipped entries count as read
        idx.filesWithWarnings = state.filesWithWarnings
        idx.corruptDataWarnings = state.corruptDataWarnings
        idx.emptyClasses = folder.emptyClasses
        if let p = o.part { idx.part = "\(p.index)/\(p.count)" }
        try idx.save(dir: o.out)
        unlink(statePath)
        unlink(o.out + "/" + Prep.skippedFile)
        return idx
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
}
