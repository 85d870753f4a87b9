import Foundation

// The dense feature map of the `kmeans` baseline: every p x p patch of an image at stride 1 (im2col), normalised and
// whitened as in the fit, the cross term -2 x.c of its squared distances to the centroids by sgemm in blocks of
// `rowBlock` patches (the activation computed on each block while it is in cache), then summed into the cells of the
// pooling grid. Images are handed to the plan's threads one at a time, OpenBLAS at one thread inside.
extension KMeansFeatures {
    static let rowBlock = 256

    /// The features of the pixel-scaled patchified images x [b, T, D] (`geometry`): out [b, width], per image the
    /// pool x pool cells in row-major order (cell (cy, cx) at cy * pool + cx), K values each.
    public func encode(_ x: UnsafePointer<Float>, batch b: Int, into out: UnsafeMutablePointer<Float>,
                       plan: ExecutionPlan = .automatic) {
        if b <= 0 { return }
        let m = geometry.imageSize - settings.patchSize + 1, k = settings.centroids, w = settings.width
        let workers = min(plan.workers, b)
        let scratch = (0..<workers).map { _ in KMeansMapScratch(self) }
        BLAS.withOneThread {
            plan.dynamic(b) { wk, i in
                let o = out + i * w
                o.initialize(repeating: 0, count: w)
                scratch[wk].map(self, x + i * geometry.valuesPerImage) { r0, rows, act in
                    KMeansFeatures.poolRows(act, firstRow: r0, rows: rows, side: m, k: k, cells: settings.pool, into: o)
                }
            }
        }
    }

    /// The activation map [m * m, K] (rows in (row, col) order of the patch positions) of one pixel-scaled
    /// patchified image, before pooling.
    public func activationMap(_ image: [Float]) -> [Float] {
        require(image.count == geometry.valuesPerImage)
        let m = geometry.imageSize - settings.patchSize + 1, k = settings.centroids
        var map = [Float](repeating: 0, count: m * m * k)
        let s = KMeansMapScratch(self)
        image.withUnsafeBufferPointer { ip in map.withUnsafeMutableBufferPointer { mp in
            s.map(self, ip.baseAddress!) { r0, rows, act in (mp.baseAddress! + r0 * k).update(from: act, count: rows * k) }
        } }
        return map
    }

    /// Cell boundaries of a split of m positions into `cells`: round(i * m / cells), halves up, for i in 0...cells
    /// (Coates et al.'s quadrants of a 27-position map: 1..14 and 15..27).
    public static func cellBounds(side m: Int, cells g: Int) -> [Int] { (0...g).map { (2 * $0 * m + g) / (2 * g) } }

    /// Adds rows [r0, r0 + rows) of a feature map [m * m, K] (row r is position (r / m, r % m)) into the cells of a
    /// cells x cells split: out [cells * cells, K], cell (cy, cx) at cy * cells + cx.
    public static func poolRows(_ act: UnsafePointer<Float>, firstRow r0: Int, rows: Int, side m: Int, k: Int, cells g: Int,
                                into out: UnsafeMutablePointer<Float>) {
        let bounds = cellBounds(side: m, cells: g)
        func cell(_ v: Int) -> Int { var c = 0; while v >= bounds[c + 1] { c += 1 }; return c }
        for r in r0..<(r0 + rows) {
            let c = cell(r / m) * g + cell(r % m)
            let src = act + (r - r0) * k, dst = out + c * k
            for j in 0..<k { dst[j] += src[j] }
        }
    }
}

/// One worker's buffers for the map of one image.
final class KMeansMapScratch {
    var image: [Float], raw: [Float], white: [Float], norms: [Float], block: [Float]
    let table: [Int], cc: [Float]

    init(_ f: KMeansFeatures) {
        let g = f.geometry, m = g.imageSize - f.settings.patchSize + 1, d = f.dim
        image = [Float](repeating: 0, count: g.imageSize * g.imageSize * g.channels)
        raw = [Float](repeating: 0, count: m * m * d); white = raw
        norms = [Float](repeating: 0, count: m * m)
        block = [Float](repeating: 0, count: KMeansFeatures.rowBlock * f.settings.centroids)
        table = KMeansFeatures.unpatchifyTable(g)
        cc = KMeans.rowNorms(f.centroids, count: f.settings.centroids, dim: d)
    }

    /// Calls body(firstRow, rows, activations [rows, K]) for the blocks of one image's map, in order.
    func map(_ f: KMeansFeatures, _ src: UnsafePointer<Float>, _ body: (Int, Int, UnsafePointer<Float>) -> Void) {
        let g = f.geometry, p = f.settings.patchSize, m = g.imageSize - p + 1, d = f.dim, k = f.settings.centroids
        let rowsAll = m * m, triangle = f.settings.activation == .triangle
        for (j, o) in table.enumerated() { image[j] = src[o] }
        image.withUnsafeBufferPointer { ip in raw.withUnsafeMutableBufferPointer { rp in
            for y in 0..<m { for x in 0..<m {
                KMeansFeatures.im2colOne(ip.baseAddress!, side: g.imageSize, channels: g.channels, patch: p, y: y, x: x,
                                         into: rp.baseAddress! + (y * m + x) * d)
            } }
            PatchNormalization.apply(rp.baseAddress!, rows: rowsAll, dim: d, eps: f.settings.normEps)
        } }
        if let z = f.whitening {
            raw.withUnsafeBufferPointer { rp in white.withUnsafeMutableBufferPointer { z.apply(rp.baseAddress!, rows: rowsAll, into: $0.baseAddress!) } }
        }
        let whitened = f.whitening == nil ? raw : white
        whitened.withUnsafeBufferPointer { wb in norms.withUnsafeMutableBufferPointer { nb in
        block.withUnsafeMutableBufferPointer { bb in f.centroids.withUnsafeBufferPointer { cb in cc.withUnsafeBufferPointer { ccb in
            let wp = wb.baseAddress!, np = nb.baseAddress!, bp = bb.baseAddress!, ccp = ccb.baseAddress!
            for r in 0..<rowsAll {
                var s: Float = 0
                let row = wp + r * d
                for q in 0..<d { s += row[q] * row[q] }
                np[r] = s
            }
            var r0 = 0
            while r0 < rowsAll {
                let rows = min(KMeansFeatures.rowBlock, rowsAll - r0)
                BLAS.sgemm(transA: false, transB: true, m: rows, n: k, k: d, alpha: -2, a: wp + r0 * d, lda: d,
                           b: cb.baseAddress!, ldb: d, beta: 0, c: bp, ldc: k)
                for i in 0..<rows {
                    let a = bp + i * k, xx = np[r0 + i]
                    if triangle {
                        var sum: Float = 0
                        for j in 0..<k { let v = xx + ccp[j] + a[j]; let z = (v > 0 ? v : 0).squareRoot(); a[j] = z; sum += z }
                        let mu = sum / Float(k)
                        for j in 0..<k { let t = mu - a[j]; a[j] = t > 0 ? t : 0 }
                    } else {
                        var best = 0, bv = a[0] + ccp[0]
                        for j in 1..<max(1, k) { let v = a[j] + ccp[j]; if v < bv { bv = v; best = j } }
                        for j in 0..<k { a[j] = 0 }
                        a[best] = 1
                    }
                }
                body(r0, rows, bp)
                r0 += rows
            }
        } } } } }
    }
}
