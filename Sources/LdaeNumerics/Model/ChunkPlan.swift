// How the chunked passes cut a batch of images into chunks (`ExecutionPlan.chunkTokens`).
//
// The cores take chunks as they free up, so the work balances except for the last chunk: when the cores run at
// different speeds (other load on a shared machine), one of them can sit idle for up to a whole chunk at the end of
// each pass. So the last chunks get smaller (docs/benchmarks.md has the timeline that showed it).

struct ChunkPlan: Equatable {
    /// The forward's chunks, in hand-out order: guided self-scheduling, each chunk about the remaining images over
    /// twice the cores, at most `perChunk` and at least `minChunk` images. Covers 0..<batch in order.
    static func guided(batch: Int, perChunk: Int, workers: Int, minChunk: Int) -> [Range<Int>] {
        let most = max(1, perChunk), least = max(1, min(minChunk, most))
        var out: [Range<Int>] = [], b0 = 0
        while b0 < batch {
            let left = batch - b0
            let size = min(left, max(least, min(most, (left + 2 * workers - 1) / (2 * workers))))
            out.append(b0..<(b0 + size))
            b0 += size
        }
        return out
    }

    /// Each core's fixed share of the backward, as chunks of at most `perChunk` images, core w's gradients going
    /// into core w's buffer.
    var shares: [[Range<Int>]]
    /// Then the tail, handed out to whichever core is free, each chunk's gradients going into a buffer of its own
    /// (so the sums, taken in a fixed order, do not depend on which core ran it).
    var tail: [Range<Int>]

    /// The backward's plan: the tail is the last 1.5 chunks of images (halves, then quarters, of `perChunk`, at most
    /// `maxTail` chunks), when the batch has at least two full chunks per core; the rest is split evenly over the
    /// cores. The plan depends only on the batch, `perChunk` and the core count, never on timing.
    static func backward(batch: Int, perChunk: Int, workers: Int, maxTail: Int = 4) -> ChunkPlan {
        let per = max(1, perChunk), k = max(1, min(workers, batch))
        var tail: [Range<Int>] = []
        var head = batch
        if k > 1, maxTail > 0, batch >= 2 * per * k {
            var sizes = [per / 2, per / 2, per / 4, per / 4].filter { $0 >= 1 }
            sizes = Array(sizes.prefix(maxTail))
            head = batch - sizes.reduce(0, +)
            var b0 = head
            for s in sizes { tail.append(b0..<(b0 + s)); b0 += s }
        }
        var shares: [[Range<Int>]] = []
        for w in 0..<k {
            let s0 = w * head / k, s1 = (w + 1) * head / k
            var chunks: [Range<Int>] = [], b0 = s0
            while b0 < s1 { let b1 = min(s1, b0 + per); chunks.append(b0..<b1); b0 = b1 }
            shares.append(chunks)
        }
        return ChunkPlan(shares: shares, tail: tail)
    }
}
