import Foundation

/// Something that maps a batch of clean pixel-scaled patchified images x [B, T, D] to features [B, width].
public struct FeatureEncoder {
    public let name: String
    public let width: Int
    public let encode: (_ x: UnsafePointer<Float>, _ batch: Int, _ out: UnsafeMutablePointer<Float>) -> Void
    public init(name: String, width: Int, encode: @escaping (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) {
        self.name = name; self.width = width; self.encode = encode
    }

    /// Features averaged over the image and its horizontal mirror (flip test-time augmentation).
    public func flipAveraged(_ g: PatchGeometry) -> FeatureEncoder {
        let inner = self
        return FeatureEncoder(name: name, width: width) { x, b, out in
            let V = g.valuesPerImage, W = inner.width
            var flipped = [Float](repeating: 0, count: b * V), second = [Float](repeating: 0, count: b * W)
            flipped.withUnsafeMutableBufferPointer { fp in
                for i in 0..<b { Augmenter.mirror(x + i * V, geometry: g, into: fp.baseAddress! + i * V) }
                inner.encode(x, b, out)
                second.withUnsafeMutableBufferPointer { inner.encode(fp.baseAddress!, b, $0.baseAddress!) }
            }
            for k in 0..<(b * W) { out[k] = 0.5 * (out[k] + second[k]) }
        }
    }

    /// The `pixels` baseline: the raw pixel-scaled image, flattened (T*D values, in patch order; a linear
    /// probe is invariant to the order of its inputs).
    public static func pixels(_ g: PatchGeometry) -> FeatureEncoder {
        FeatureEncoder(name: "pixels", width: g.valuesPerImage) { x, b, out in
            out.update(from: x, count: b * g.valuesPerImage)
        }
    }
}

/// Features of a shard set: [count, width] float32 and the labels [count].
public struct FeatureSet: Sendable {
    public var values: [Float]
    public var labels: [Int32]
    public var width: Int
    public var count: Int { labels.count }
}

public enum FeatureExtractor {
    /// Which global indices to use: all (sorted) when `max` is nil or >= count, else a seeded random subset (sorted).
    public static func selection(count: Int, max: Int?, seed: UInt64) -> [Int] {
        guard let m = max, m < count else { return Array(0..<count) }
        var idx = Array(0..<count)
        var rng = RNG(seed: seed, stream: 0x5e1ec7)
        rng.shuffle(&idx)
        return Array(idx[0..<Swift.max(0, m)]).sorted()
    }

    /// Runs `encoder` over the selected images of `set` in batches of `batch`, showing progress.
    public static func extract(_ set: ShardSet, encoder: FeatureEncoder, batch: Int = 256, indices: [Int]? = nil,
                               label: String = "features") throws -> FeatureSet {
        let sel = indices ?? Array(0..<set.count)
        let W = encoder.width
        var out = [Float](repeating: 0, count: sel.count * W)
        var labels = [Int32](repeating: -1, count: sel.count)
        try forEachBatch(set, indices: sel, batch: batch, label: label) { x, n, pos, l in
            for i in 0..<n { labels[pos + i] = l[i] }
            out.withUnsafeMutableBufferPointer { op in encoder.encode(x, n, op.baseAddress! + pos * W) }
        }
        return FeatureSet(values: out, labels: labels, width: W)
    }

    /// Reads the selected images of `set` (`indices`, ascending global indices) as pixel-scaled patches, at most
    /// `batch` at a time, showing progress: body(x [n, T, D], n, pos, labels [n]), where the images are
    /// indices[pos ..< pos + n]. Contiguous row ranges of one shard are read at once.
    public static func forEachBatch(_ set: ShardSet, indices sel: [Int], batch: Int, label: String,
                                    _ body: (UnsafePointer<Float>, Int, Int, [Int32]) throws -> Void) throws {
        let V = set.geometry.valuesPerImage
        let table = PixelScaling.table
        let progress = ProgressLine(label, total: sel.count, unit: "img")
        var xb = [Float](repeating: 0, count: max(1, batch) * V)
        var lb = [Int32](repeating: -1, count: max(1, batch))
        var pos = 0                        // next position in sel
        // Group the selection by shard, read contiguous row ranges in chunks of `batch`.
        while pos < sel.count {
            let (shard, row0) = set.locate(sel[pos])
            let shardEnd = set.shards[shard].start + set.shards[shard].count
            var n = 0
            var rows: [Int] = []
            while pos + n < sel.count && n < batch && sel[pos + n] < shardEnd { rows.append(sel[pos + n] - set.shards[shard].start); n += 1 }
            let lo = row0, hi = rows.last! + 1
            let (p, l) = try set.read(shard: shard, rows: lo..<hi)
            for (i, r) in rows.enumerated() {
                let src = (r - lo) * V
                for j in 0..<V { xb[i * V + j] = table[Int(p[src + j])] }
                lb[i] = l[r - lo]
            }
            try xb.withUnsafeBufferPointer { xp in try body(xp.baseAddress!, n, pos, Array(lb[0..<n])) }
            pos += n
            progress.advance(n)
        }
        progress.finish()
    }

    /// Reads the selected clean images as pixel-scaled patches [n, T, D] (for denoising and figures).
    public static func images(_ set: ShardSet, indices: [Int]) throws -> [Float] {
        let V = set.geometry.valuesPerImage
        var out = [Float](repeating: 0, count: indices.count * V)
        let table = PixelScaling.table
        for (i, gi) in indices.enumerated() {
            let (s, r) = set.locate(gi)
            let (p, _) = try set.read(shard: s, rows: r..<(r + 1))
            for j in 0..<V { out[i * V + j] = table[Int(p[j])] }
        }
        return out
    }
}
