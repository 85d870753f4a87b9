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
        require(total >= 0 && target >= 0)
        self.total = total; self.target = min(target, total)
        rng = RNG(seed: seed, stream: 0x5043_41)   // "PCA"
    }

    public var takesAll: Bool { target == total }

    /// Whether the next item is selected.
    @inline(__always)
    public mutating func next() -> Bool {
        require(seen < total, "PatchSampler: more items than declared")
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
    /// Whether the stream has ended (the consumer may end it early to stop the producer).
    var isFinished: Bool { cond.lock(); defer { cond.unlock() }; return finished }
    /// The next item, or nil at the end of the stream; rethrows the producer's error.
    func take() throws -> T? {
        cond.lock(); defer { cond.unlock() }
        while items.isEmpty && !finished { cond.wait() }
        if let e = error { throw e }
        if items.isEmpty { return nil }
        let x = items.removeFirst(); cond.broadcast(); return x
    }
}
