import Foundation

/// Training batches from HDF5 shards (FFCV-style, simplified): a deterministic order from (seed, epoch), random
/// crops and horizontal flips from (seed, step) (`Augmenter`), uint8 -> pixel-scaled float, prepared on a background
/// thread one batch ahead (double buffering). Only `patches` is read: no class labels. Images of the held-out
/// validation split (`HoldOut`) are never part of a batch.
///
/// Batch s (0-based step) is epoch e = s / stepsPerEpoch, position i = s % stepsPerEpoch, images
/// order_e[i*B ..< (i+1)*B] (drop_last), over the training images only (all images when nothing is held out). Everything depends only on (seed, step), so a resumed run sees
/// exactly the batches an uninterrupted one would.
/// - in memory (the whole set fits in `memoryBudget` bytes): order_e = a global shuffle with RNG(seed, stream: e).
/// - streaming: shards in a shuffled order, rows shuffled within each shard; at most two shards in memory.
public final class BatchLoader: @unchecked Sendable {
    public struct Batch {
        public let step: Int
        public let epoch: Int
        public let count: Int
        /// x0 [B, T, D] pixel-scaled clean patches (valid until the next call to `next`).
        public let x0: UnsafeMutablePointer<Float>
    }

    public let shards: ShardSet
    public let batchSize: Int
    public let seed: UInt64
    public let augmenter: Augmenter
    public let inMemory: Bool
    /// Global indices of the images batches are drawn from (sorted), and whether each image is one of them.
    public let trainIndices: [Int]
    private let isTrain: [Bool]
    public let stepsPerEpoch: Int
    /// The positions of each global batch this loader fills (all of it in one process; an MPI rank's contiguous
    /// block, `BatchSlice`): batches hold `slice.count` images, those of the global batch at these positions.
    public let slice: Range<Int>
    let geometry: PatchGeometry
    let perImage: Int

    static let orderStream: UInt64 = 0x4F52_4445_5200_0000

    // shard cache: index -> uint8 patches [count, T, D]
    private var cache: [Int: [UInt8]] = [:]
    private var cacheOrder: [Int] = []
    private var orderEpoch = -1
    private var order: [Int] = []
    private let orderLock = NSLock()

    // background production
    private var slots: [UnsafeMutablePointer<Float>] = []
    private var slotStep: [Int] = [-1, -1]
    private let free = DispatchSemaphore(value: 2)
    private let full = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var error: Error? = nil
    private var stopFlag = false
    private var holding = false
    private var consumed = 0
    private var startStep = 0
    private var endStep = 0
    private var thread: Thread? = nil
    private var finished = DispatchSemaphore(value: 0)
    private var running = false

    /// memoryBudget: bytes of uint8 patches that may be held at once (default 1 GiB).
    public convenience init(shards: ShardSet, batchSize: Int, seed: UInt64, flip: Bool, memoryBudget: Int = 1 << 30) throws {
        var c = TrainConfig(); c.batchSize = batchSize; c.seed = seed; c.flip = flip
        try self.init(shards: shards, config: c, memoryBudget: memoryBudget)
    }

    /// Batches of `config.batchSize` with the config's seed, augmentation and held-out split.
    public init(shards: ShardSet, config: TrainConfig, memoryBudget: Int = 1 << 30, slice: Range<Int>? = nil) throws {
        self.shards = shards; batchSize = config.batchSize; seed = config.seed
        self.slice = slice ?? 0..<config.batchSize
        geometry = shards.geometry
        perImage = geometry.valuesPerImage
        augmenter = Augmenter(geometry: geometry, config: config)
        trainIndices = HoldOut(fraction: config.valFraction, seed: config.valSeed).split(count: shards.count).train
        var mask = [Bool](repeating: false, count: shards.count)
        for i in trainIndices { mask[i] = true }
        isTrain = mask
        guard batchSize >= 1 else { throw LdaeError("batch size must be >= 1") }
        guard trainIndices.count >= batchSize else {
            let held = shards.count - trainIndices.count
            throw LdaeError("the shard set has \(trainIndices.count) training images\(held > 0 ? " (\(held) held out for validation)" : ""), fewer than one batch of \(batchSize) (use --batch-size \(trainIndices.count) or less)", file: shards.sources[0])
        }
        stepsPerEpoch = trainIndices.count / batchSize
        inMemory = shards.count * perImage <= memoryBudget
        for _ in 0..<2 { slots.append(.allocate(capacity: max(1, self.slice.count) * perImage)) }
    }

    deinit {
        stop()
        for s in slots { s.deallocate() }
    }

    public func epoch(ofStep s: Int) -> Int { s / stepsPerEpoch }

    /// The image order of epoch e (a permutation of 0..<count).
    public func order(epoch e: Int) -> [Int] {
        var rng = RNG(seed: seed, stream: BatchLoader.orderStream &+ UInt64(e))
        if inMemory {
            var o = trainIndices
            rng.shuffle(&o)
            return o
        }
        var so = Array(0..<shards.shards.count)
        rng.shuffle(&so)
        var o: [Int] = []
        o.reserveCapacity(shards.count)
        for s in so {
            var rows = Array(0..<shards.shards[s].count)
            rng.shuffle(&rows)
            let start = shards.shards[s].start
            o += rows.lazy.map { start + $0 }.filter { self.isTrain[$0] }
        }
        return o
    }

    /// The global image indices of step s's batch.
    /// Safe to call while the background thread runs (the cached epoch order is behind `orderLock`).
    public func indices(step s: Int) -> [Int] {
        let e = epoch(ofStep: s)
        orderLock.lock(); defer { orderLock.unlock() }
        if e != orderEpoch { order = order(epoch: e); orderEpoch = e }
        let i = s % stepsPerEpoch
        return Array(order[(i * batchSize)..<((i + 1) * batchSize)])
    }

    /// The per-image flip decisions of step s.
    public func flips(step s: Int) -> [Bool] { augmenter.flips(step: s, batch: batchSize) }

    private func shardData(_ s: Int) throws -> [UInt8] {
        if let d = cache[s] { return d }
        let f = try shards.open(shard: s)
        defer { try? f.close() }
        let ds = try f.dataset(ShardFormat.patches)
        defer { ds.close() }
        let n = shards.shards[s].count
        guard ds.shape == [n, geometry.tokens, geometry.tokenDim] else {
            throw LdaeError("patches has shape \(ds.shape), expected [\(n), \(geometry.tokens), \(geometry.tokenDim)]", file: shards.shards[s].path)
        }
        var data = [UInt8](repeating: 0, count: n * perImage)
        if n > 0 { try data.withUnsafeMutableBytes { try ds.read(rowStart: 0, rows: n, into: $0.baseAddress!, as: UInt8.self) } }
        cache[s] = data
        cacheOrder.append(s)
        if !inMemory && cacheOrder.count > 2 { cache[cacheOrder.removeFirst()] = nil }
        return data
    }

    /// Fills out [slice.count, T, D] with step s's batch (synchronously; the whole batch unless sliced).
    public func fill(step s: Int, into out: UnsafeMutablePointer<Float>) throws {
        let idx = indices(step: s)
        let fl = flips(step: s)
        let crops = augmenter.crops(step: s, batch: batchSize)
        for (b, g) in idx.enumerated() where slice.contains(b) {
            let (sh, row) = shards.locate(g)
            let data = try shardData(sh)
            data.withUnsafeBufferPointer { src in
                augmenter.apply(src.baseAddress! + row * perImage, crop: crops?[b], flip: fl[b], into: out + (b - slice.lowerBound) * perImage)
            }
        }
    }

    /// Starts producing batches for steps start..<end on a background thread.
    public func start(from startStep: Int, to endStep: Int) {
        stop()
        lock.lock(); stopFlag = false; error = nil; lock.unlock()
        consumed = startStep; self.startStep = startStep; self.endStep = endStep; holding = false
        running = true
        finished = DispatchSemaphore(value: 0)
        let fin = finished
        let t = Thread { [unowned self] in
            var s = startStep
            var slot = 0
            while s < endStep {
                self.free.wait()
                self.lock.lock(); let stopping = self.stopFlag; self.lock.unlock()
                if stopping { break }
                do {
                    try self.fill(step: s, into: self.slots[slot])
                    self.slotStep[slot] = s
                } catch {
                    self.lock.lock(); self.error = error; self.lock.unlock()
                    self.slotStep[slot] = -1
                    self.full.signal()
                    break
                }
                self.full.signal()
                slot ^= 1; s += 1
            }
            fin.signal()
        }
        t.stackSize = 1 << 22
        thread = t
        t.start()
    }

    /// The next batch (blocks until ready). The previous batch's buffer is handed back to the producer.
    public func next() throws -> Batch {
        guard running && consumed < endStep else { throw LdaeError("loader: no batch after step \(endStep - 1) (start it first)") }
        if holding { free.signal(); holding = false }
        full.wait()
        holding = true
        let slot = (consumed - startStep) & 1
        lock.lock(); let err = error; lock.unlock()
        if let err, slotStep[slot] != consumed { throw err }
        let s = consumed
        consumed += 1
        return Batch(step: s, epoch: epoch(ofStep: s), count: slice.count, x0: slots[slot])
    }

    /// Stops the background thread (idempotent).
    public func stop() {
        guard running else { return }
        lock.lock(); stopFlag = true; lock.unlock()
        free.signal(); free.signal()
        finished.wait()
        running = false
        holding = false
        // reset the semaphores to their initial state
        while full.wait(timeout: .now()) == .success {}
        while free.wait(timeout: .now()) == .success {}
        free.signal(); free.signal()
    }
}
