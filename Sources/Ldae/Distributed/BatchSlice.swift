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

extension LDAEObjective {
    /// How many normals `corrupt` draws for one image (image by image, in order): T x d in the latent, T x D in pixels.
    public var normalsPerImage: Int { config.tokenizer == .pixel ? tokens * dim : tokens * latentDim }
}

extension RNG {
    /// Advances the generator exactly as `n` calls of `normal()` would, without computing them: the rank that
    /// starts at image i of a batch skips the noise of images 0..<i, so every image gets the numbers it gets in
    /// one process. Box-Muller takes two uniforms (the first redrawn while <= 1e-300) per pair of normals.
    public mutating func skipNormals(_ n: Int) {
        var k = n
        if k > 0 && hasSpareNormal { _ = normal(); k -= 1 }
        while k >= 2 {
            var u = uniform()
            while u <= 1e-300 { u = uniform() }
            _ = next()
            k -= 2
        }
        if k == 1 { _ = normal() }
    }
}
