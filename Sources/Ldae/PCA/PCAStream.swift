import Foundation

/// Fits a patch PCA basis by streaming every patch (or a seeded subsample) of a shard set.
///
/// accumulate = start (the beginning, or a saved state) -> a reader thread reads uint8 chunks of whole images (HDF5
/// hyperslabs, about 16 MB) and picks the subsample's rows -> this thread adds them to the float64 covariance sums,
/// saving the state every `interval` seconds. A resumed run gives the same sums, bit for bit, as an uninterrupted one.
public enum PCAStream {
    /// One chunk read from disk: uint8 patches [images * T, D] and, when subsampling, the selected rows.
    struct Chunk: @unchecked Sendable {
        var bytes: [UInt8]
        var rows: Int
        var selected: [Int32]?   // nil = all rows
        var images: Int
        /// Where the stream continues after this chunk: shard, row, patches passed.
        var nextShard: Int, nextRow: Int, patchesSeen: Int
    }

    /// Where a pass starts: shard, row, patches passed and images done so far.
    struct Position: Sendable { var shard = 0, row = 0, patchesSeen = 0, imagesDone = 0 }

    /// Streams `set` into a covariance accumulator. `maxPatches`: a deterministic seeded subsample of
    /// exactly that many patches spread over all shards (nil or >= the total: every patch). `images`: only these
    /// global images (a part, `ldae-fit-pca --part`; nil: all). The subsample is always drawn over the whole set,
    /// its draws replayed up to the part's first patch, so a part selects exactly the patches the whole run selects
    /// among its images, however the set is split.
    public static func accumulate(_ set: ShardSet, images: Range<Int>? = nil, maxPatches: Int? = nil, seed: UInt64 = 0,
                                  progress: ProgressLine? = nil, checkpointing: PCACheckpointing? = nil,
                                  chunkImages: Int? = nil) throws -> CovarianceAccumulator {
        let g = set.geometry
        if let m = maxPatches, m < 2 { throw LdaeError("--max-patches must be at least 2, got \(m)") }
        let range = images ?? 0..<set.count
        require(range.lowerBound >= 0 && range.upperBound <= set.count, "PCAStream: image range outside the set")
        let identity = PCAResumeState.identity(set, maxPatches: maxPatches, seed: seed, images: images)
        var (acc, at) = try start(set, images: range, identity: identity, checkpointing: checkpointing)
        let total = set.count * g.tokens
        var sampler = PatchSampler(total: total, target: maxPatches ?? total, seed: seed)
        if !sampler.takesAll { for _ in 0..<at.patchesSeen { _ = sampler.next() } }   // replay to the saved position
        progress?.advance(at.imagesDone)
        let queue = BlockQueue<Chunk>(capacity: 2)
        let chunk = max(1, chunkImages ?? (16 << 20) / g.valuesPerImage)
        let (from, startSampler) = (at, sampler)
        let reader = Thread { readChunks(set, from: from, to: range.upperBound, sampler: startSampler, chunkImages: chunk, into: queue) }
        reader.stackSize = 1 << 22
        reader.start()
        defer { queue.finish() }   // stops the reader if this thread leaves early
        var lastSave = Date()
        try addChunks(from: queue, to: &acc, dim: g.tokenDim, imagesDone: &at.imagesDone, progress: progress) { acc, c, done, chunks in
            // the resume state, every `interval` seconds (and at `stopAfterChunks`, the tests' interruption)
            guard let ck = checkpointing, Date().timeIntervalSince(lastSave) >= ck.interval || ck.stopAfterChunks == chunks else { return }
            try PCAResumeState(identity: identity, shard: c.nextShard, row: c.nextRow, patchesSeen: c.patchesSeen,
                               imagesDone: done, accumulator: acc).save(ck.path)
            lastSave = Date()
            if ck.stopAfterChunks == chunks { throw LdaeError("stopped after \(chunks) chunks (test interruption)", file: ck.path) }
        }
        return acc
    }

    /// The accumulator and position to start from: empty at the first of `images` (the sampler's position: every
    /// patch before it), or a saved state of the same data and settings (`checkpointing.resume`).
    static func start(_ set: ShardSet, images: Range<Int>, identity: String, checkpointing: PCACheckpointing?) throws -> (CovarianceAccumulator, Position) {
        let first = images.lowerBound
        guard let ck = checkpointing, ck.resume, FileUtil.exists(ck.path) else {
            let (shard, row) = set.locate(first)
            return (CovarianceAccumulator(dim: set.geometry.tokenDim),
                    Position(shard: shard, row: row, patchesSeen: first * set.geometry.tokens, imagesDone: 0))
        }
        let st = try PCAResumeState.load(ck.path)
        guard st.identity == identity else {
            throw LdaeError("resume file was written for other data or settings (\(st.identity)); delete it to start over", file: ck.path)
        }
        eprint("resuming from \(ck.path): \(st.imagesDone) of \(images.count) images done, \(st.accumulator.count) patches accumulated")
        return (st.accumulator, Position(shard: st.shard, row: st.row, patchesSeen: st.patchesSeen, imagesDone: st.imagesDone))
    }

    /// The reader thread: chunks of `chunkImages` images from `at` to global image `end`, each with the
    /// subsample's rows; ends the queue there (or with the error that stopped it).
    static func readChunks(_ set: ShardSet, from at: Position, to end: Int, sampler start: PatchSampler, chunkImages chunk: Int,
                           into queue: BlockQueue<Chunk>) {
        let T = set.geometry.tokens, D = set.geometry.tokenDim
        var sampler = start, seen = at.patchesSeen
        do {
            for (i, e) in set.shards.enumerated() where i >= at.shard && e.start < end {
                var r = i == at.shard ? at.row : 0
                let rowEnd = min(e.count, end - e.start)   // the part may end inside this shard
                if r >= rowEnd { continue }
                let f = try set.open(shard: i)
                defer { try? f.close() }
                let pd = try f.dataset(ShardFormat.patches)
                defer { pd.close() }
                guard pd.shape == [e.count, T, D] else {
                    throw LdaeError("patches has shape \(pd.shape), expected [\(e.count), \(T), \(D)]", file: e.path)
                }
                guard pd.elementDescription.isInteger && pd.elementDescription.size == 1 else {
                    throw LdaeError("patches is not uint8", file: e.path)
                }
                while r < rowEnd {
                    if queue.isFinished { return }
                    let n = min(chunk, rowEnd - r)
                    var sel: [Int32]? = nil
                    if !sampler.takesAll {
                        var s: [Int32] = []
                        for k in 0..<(n * T) where sampler.next() { s.append(Int32(k)) }
                        sel = s
                    }
                    var bytes: [UInt8] = []
                    if sel?.isEmpty != true {
                        bytes = [UInt8](repeating: 0, count: n * T * D)
                        try bytes.withUnsafeMutableBytes { try pd.read(rowStart: r, rows: n, into: $0.baseAddress!, as: UInt8.self) }
                    }
                    r += n
                    seen += n * T
                    let last = r == rowEnd
                    queue.put(Chunk(bytes: bytes, rows: n * T, selected: sel, images: n,
                                    nextShard: last ? i + 1 : i, nextRow: last ? 0 : r, patchesSeen: seen))
                }
            }
            queue.finish()
        } catch {
            queue.finish(error)
        }
    }

    /// This thread: every chunk's rows (its subsample gathered into blocks) added to acc, then `after` (the resume
    /// state's save) with the chunk, the images done and the chunks done.
    static func addChunks(from queue: BlockQueue<Chunk>, to acc: inout CovarianceAccumulator, dim D: Int, imagesDone: inout Int,
                          progress: ProgressLine?,
                          after: (CovarianceAccumulator, Chunk, Int, Int) throws -> Void) throws {
        let B = CovarianceAccumulator.byteBlockRows * 16   // rows gathered per call when subsampling
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: CovarianceAccumulator.byteScratchCount(dim: D))
        defer { scratch.deallocate() }
        var gather = [UInt8](repeating: 0, count: B * D)
        var chunks = 0
        while let c = try queue.take() {
            if let sel = c.selected {
                var k = 0
                while k < sel.count {
                    let m = min(B, sel.count - k)
                    c.bytes.withUnsafeBufferPointer { src in gather.withUnsafeMutableBufferPointer { dst in
                        for i in 0..<m {
                            UnsafeMutableRawPointer(dst.baseAddress! + i * D).copyMemory(from: src.baseAddress! + Int(sel[k + i]) * D, byteCount: D)
                        }
                    } }
                    gather.withUnsafeBufferPointer { acc.add(bytes: $0.baseAddress!, rows: m, scratch: scratch) }
                    k += m
                }
            } else {
                c.bytes.withUnsafeBufferPointer { acc.add(bytes: $0.baseAddress!, rows: c.rows, scratch: scratch) }
            }
            imagesDone += c.images
            chunks += 1
            progress?.advance(c.images, extra: "\(acc.count) patches")
            try after(acc, c, imagesDone, chunks)
        }
    }

    /// Accumulates and decomposes: the basis of `set`, recording the sample count and the index sha256.
    public static func fit(_ set: ShardSet, maxPatches: Int? = nil, seed: UInt64 = 0,
                           progress: ProgressLine? = nil, checkpointing: PCACheckpointing? = nil) throws -> PCABasis {
        let acc = try accumulate(set, maxPatches: maxPatches, seed: seed, progress: progress, checkpointing: checkpointing)
        return try PCAFit.basis(acc, patchSize: set.geometry.patchSize, channels: set.geometry.channels,
                                indexSHA256: set.indexSHA256)
    }
}
