import Foundation

/// The held-out images a fine-tuning run validates on, read once into memory (uint8 patches and labels), so that a
/// validation pass every epoch reads no file. Under MPI each rank holds its contiguous block of them
/// (`ImageFolder.partRange`) and the ranks sum their counts.
public final class ValidationSet {
    public let geometry: PatchGeometry
    /// [count, T, D] as stored in the shards.
    let patches: [UInt8]
    public let labels: [Int32]
    public var count: Int { labels.count }

    /// Reads `indices` (global, ascending) of `set`, in windows of at most 1,024 rows of one shard.
    public init(_ set: ShardSet, indices: [Int], labels all: [Int32]) throws {
        geometry = set.geometry
        let V = geometry.valuesPerImage
        var out = [UInt8](repeating: 0, count: indices.count * V)
        var pos = 0
        while pos < indices.count {
            let (shard, row0) = set.locate(indices[pos])
            let end = set.shards[shard].start + set.shards[shard].count
            var last = pos
            while last + 1 < indices.count && indices[last + 1] < end && indices[last + 1] - indices[pos] < 1024 { last += 1 }
            let hi = indices[last] - set.shards[shard].start + 1
            let (p, _) = try set.read(shard: shard, rows: row0..<hi)
            for i in pos...last {
                let r = indices[i] - set.shards[shard].start - row0
                out.withUnsafeMutableBufferPointer { o in
                    p.withUnsafeBufferPointer { (o.baseAddress! + i * V).update(from: $0.baseAddress! + r * V, count: V) }
                }
            }
            pos = last + 1
        }
        patches = out
        labels = indices.map { all[$0] }
    }

    /// Sums over this set: cross-entropy (no smoothing), images whose label is the top class, among the top five.
    public struct Sums: Sendable { public var loss = 0.0, top1 = 0.0, top5 = 0.0, count = 0.0 }

    /// The classifier's logits on every image, `batch` at a time.
    public func evaluate(_ c: Classifier, batch: Int) -> Sums {
        var s = Sums()
        let V = geometry.valuesPerImage, C = c.spec.classes, table = PixelScaling.table
        var x = [Float](repeating: 0, count: max(1, batch) * V), z = [Float](repeating: 0, count: max(1, batch) * C)
        var b0 = 0
        while b0 < count {
            let n = min(batch, count - b0)
            for i in 0..<(n * V) { x[i] = table[Int(patches[b0 * V + i])] }
            x.withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { c.logits(xp.baseAddress!, batch: n, out: $0.baseAddress!) } }
            let y = Array(labels[b0..<(b0 + n)])
            z.withUnsafeBufferPointer { zp in
                y.withUnsafeBufferPointer { s.loss += SoftmaxCrossEntropy.loss(logits: zp.baseAddress!, labels: $0.baseAddress!, n: n, classes: C, smoothing: 0, scale: 1, dLogits: nil) }
                for i in 0..<n {
                    let r = SoftmaxCrossEntropy.rank(logits: zp.baseAddress! + i * C, label: Int(y[i]), classes: C)
                    if r < 1 { s.top1 += 1 }
                    if r < 5 { s.top5 += 1 }
                }
            }
            b0 += n
        }
        s.count = Double(count)
        return s
    }
}
