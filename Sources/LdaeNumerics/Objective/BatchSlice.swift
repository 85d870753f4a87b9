import Foundation

/// The images of every global batch that one rank computes: the contiguous block rank * B/N ..< (rank + 1) * B/N of
/// the batch the loader would give a single process (its order is a function of (seed, step) only, so every rank
/// knows the whole batch without talking). `--batch-size` stays the global batch B and must be a multiple of the
/// number of ranks N, so that every rank holds the same number of images and the mean over the global batch is the
/// mean of the ranks' means.
public struct BatchSlice: Equatable, Sendable {
    public let globalBatch: Int
    public let ranks: Int
    public let rank: Int

    public init(globalBatch: Int, ranks: Int, rank: Int) throws {
        guard ranks >= 1, rank >= 0, rank < ranks else { throw LdaeError("rank \(rank) is not in 0..<\(ranks)") }
        guard globalBatch % ranks == 0 else {
            let lo = globalBatch / ranks * ranks, hi = lo + ranks
            throw LdaeError("--batch-size \(globalBatch) (the global batch) is not divisible by the \(ranks) ranks; use a multiple of \(ranks) such as \(lo > 0 ? "\(lo) or " : "")\(hi) (each rank computes batch-size / ranks images)")
        }
        self.globalBatch = globalBatch; self.ranks = ranks; self.rank = rank
    }

    /// The whole batch (one process).
    public static func whole(_ batch: Int) -> BatchSlice { try! BatchSlice(globalBatch: batch, ranks: 1, rank: 0) }

    public var count: Int { globalBatch / ranks }
    public var range: Range<Int> { (rank * count)..<((rank + 1) * count) }
}
