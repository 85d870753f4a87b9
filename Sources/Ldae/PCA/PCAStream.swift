import Foundation

/// Seeded selection of exactly `target` of `total` items in one sequential pass (Knuth's selection
/// sampling, TAOCP 3.4.2 Algorithm S): item i is taken with probability (still needed) / (still left).
/// Every subset of size `target` is equally likely, so the sample is spread over the whole stream
/// (all shards), and the same seed always selects the same items.
public struct PatchSampler: Sendable {
    public let total: Int
    public let target: Int
    public private(set) var seen = 0
    public private(set) var selected = 0
    private var rng: RNG

    public init(total: Int, target: Int, seed: UInt64) {
        precondition(total >= 0 && target >= 0)
        self.total = total; self.target = min(target, total)
        rng = RNG(seed: seed, stream: 0x5043_41)   // "PCA"
    }

    public var takesAll: Bool { target == total }

    /// Whether the next item is selected.
    @inline(__always)
    public mutating func next() -> Bool {
        precondition(seen < total, "PatchSampler: more items than declared")
        let left = total - seen, need = target - selected
        seen += 1
        if need == 0 { return false }
        if need >= left || Double(left) * rng.uniform() < Double(need) { selected += 1; return true }
        return false
    }
}

/// A bounded blocking queue between the reader thread and the accumulating thread.
final class BlockQueue<T>: @unchecked Sendable {
    private var items: [T] = []
    private var finished = false
    private var error: Error?
    private let cond = NSCondition()
    private let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    func put(_ x: T) {
        cond.lock(); defer { cond.unlock() }
        while items.count >= capacity && !finished { cond.wait() }
        items.append(x); cond.broadcast()
    }
    /// Ends the stream (with an error when reading failed); also releases a blocked producer.
    func finish(_ e: Error? = nil) {
        cond.lock(); defer { cond.unlock() }
        finished = true; if error == nil { error = e }; cond.broadcast()
    }
    /// The next item, or nil at the end of the stream; rethrows the producer's error.
    func take() throws -> T? {
        cond.lock(); defer { cond.unlock() }
        while items.isEmpty && !finished { cond.wait() }
        if let e = error { throw e }
        if items.isEmpty { return nil }
        let x = items.removeFirst(); cond.broadcast(); return x
    }
}

/// Fits a patch PCA basis by streaming every patch (or a seeded subsample) of a shard set.
public enum PCAStream {
    /// One chunk read from disk: uint8 patches [images * T, D] and, when subsampling, the selected rows.
    struct Chunk: @unchecked Sendable {
        var bytes: [UInt8]
        var rows: Int
        var selected: [Int32]?   // nil = all rows
        var images: Int
    }

    /// Streams `set` into a covariance accumulator. `maxPatches`: a deterministic seeded subsample of
    /// exactly that many patches spread over all shards (nil or >= the total: every patch).
    /// A reader thread reads uint8 chunks (HDF5 hyperslabs) while this thread converts and accumulates.
    public static func accumulate(_ set: ShardSet, maxPatches: Int? = nil, seed: UInt64 = 0,
                                  progress: Progress? = nil) throws -> CovarianceAccumulator {
        let g = set.geometry
        let T = g.tokens, D = g.tokenDim
        let total = set.count * T
        if let m = maxPatches, m < 2 { throw LdaeError("--max-patches must be at least 2, got \(m)") }
        let sampler = PatchSampler(total: total, target: maxPatches ?? total, seed: seed)
        // About 16 MB of uint8 per chunk, whole images.
        let chunkImages = max(1, (16 << 20) / g.valuesPerImage)
        let queue = BlockQueue<Chunk>(capacity: 2)

        let reader = Thread {
            var sampler = sampler
            do {
                for (i, e) in set.shards.enumerated() {
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
                    var r = 0
                    while r < e.count {
                        let n = min(chunkImages, e.count - r)
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
                        queue.put(Chunk(bytes: bytes, rows: n * T, selected: sel, images: n))
                        r += n
                    }
                }
                queue.finish()
            } catch {
                queue.finish(error)
            }
        }
        reader.stackSize = 1 << 22
        reader.start()

        var acc = CovarianceAccumulator(dim: D)
        let B = CovarianceAccumulator.byteBlockRows * 16   // rows gathered per call when subsampling
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: CovarianceAccumulator.byteScratchCount(dim: D))
        defer { scratch.deallocate() }
        var gather = [UInt8](repeating: 0, count: B * D)
        while let c = try queue.take() {
            if let sel = c.selected {
                var k = 0
                while k < sel.count {
                    let m = min(B, sel.count - k)
                    c.bytes.withUnsafeBufferPointer { src in
                        gather.withUnsafeMutableBufferPointer { dst in
                            for i in 0..<m {
                                let row = Int(sel[k + i])
                                UnsafeMutableRawPointer(dst.baseAddress! + i * D)
                                    .copyMemory(from: src.baseAddress! + row * D, byteCount: D)
                            }
                        }
                    }
                    gather.withUnsafeBufferPointer { acc.add(bytes: $0.baseAddress!, rows: m, scratch: scratch) }
                    k += m
                }
            } else {
                c.bytes.withUnsafeBufferPointer { acc.add(bytes: $0.baseAddress!, rows: c.rows, scratch: scratch) }
            }
            progress?.advance(c.images, extra: "\(acc.count) patches")
        }
        return acc
    }

    /// Accumulates and decomposes: the basis of `set`, recording the sample count and the index sha256.
    public static func fit(_ set: ShardSet, maxPatches: Int? = nil, seed: UInt64 = 0,
                           progress: Progress? = nil) throws -> PCABasis {
        let acc = try accumulate(set, maxPatches: maxPatches, seed: seed, progress: progress)
        return try PCAFit.basis(acc, patchSize: set.geometry.patchSize, channels: set.geometry.channels,
                                indexSHA256: set.indexSHA256)
    }
}
