/// The validation split carved from a training shard set: a seeded random `fraction` of the images, the same for
/// the trainer (which never trains on them) and for `ldae-zoo eval --val` (which probes on them). It depends only on
/// (image count, fraction, seed), so it survives a resume, another training seed and another machine.
public struct HoldOut: Sendable, Equatable {
    public let fraction: Double
    public let seed: UInt64
    static let stream: UInt64 = 0x484F_4C44_4F55_5400

    public init(fraction: Double, seed: UInt64) { self.fraction = fraction; self.seed = seed }

    /// How many of `count` images are held out: round(fraction * count), at least 1 when fraction > 0.
    public func heldOutCount(of count: Int) -> Int {
        guard fraction > 0, count > 0 else { return 0 }
        return min(count - 1, max(1, Int((fraction * Double(count)).rounded())))
    }

    /// (train, val): the global indices of both parts, each sorted.
    public func split(count: Int) -> (train: [Int], val: [Int]) {
        let n = heldOutCount(of: count)
        guard n > 0 else { return (Array(0..<count), []) }
        var idx = Array(0..<count)
        var rng = RNG(seed: seed, stream: HoldOut.stream)
        rng.shuffle(&idx)
        return (Array(idx[n...]).sorted(), Array(idx[..<n]).sorted())
    }
}
