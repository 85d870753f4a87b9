import Foundation

/// Lloyd's k-means on float32 points [n, d] (the `kmeans` baseline's dictionary, `KMeansFeatures`).
///
/// - Seeding: k-means++ (Arthur & Vassilvitskii 2007) on a seeded subsample of at most `seedingSample(k)` points
///   (all of them when there are fewer), so that well-separated clusters each get a centroid without paying k full
///   passes over a large sample.
/// - Assignment: squared distances ||x||^2 - 2 x.c + ||c||^2 with the cross term from sgemm, in blocks of
///   `blockRows` points handed to the plan's threads (OpenBLAS at one thread inside); every block has the same
///   shape whatever the thread count, so the result does not depend on it.
/// - Update: the mean of each cluster's points, summed in float64 in point order. A cluster left empty is re-seeded
///   with the point that is farthest from its own centroid (the next farthest for the next empty cluster; ties: the
///   lower index), which is deterministic.
/// - Stops after `iterations` updates, or earlier when an assignment changes nothing.
public enum KMeans {
    public struct Result: Sendable {
        public var centroids: [Float]     // [k, d]
        /// Each point's cluster under the returned centroids.
        public var labels: [Int32]
        /// Mean squared distance of the points to their centroids under the returned centroids.
        public var distortion: Double
        /// Updates run (at most `iterations`).
        public var iterations: Int
        /// Empty clusters re-seeded, over all iterations.
        public var reseeded: Int
    }

    static let blockRows = 1024
    static func seedingSample(_ k: Int) -> Int { max(20_000, 16 * k) }

    /// Fits k centroids to points x [n, d] (n >= k), deterministically for a seed.
    public static func fit(_ x: [Float], count n: Int, dim d: Int, k: Int, iterations: Int, seed: UInt64,
                           plan: ExecutionPlan = .automatic) -> Result {
        require(x.count == n * d && k >= 1 && n >= k && d >= 1 && iterations >= 0)
        var c = seedPlusPlus(x, count: n, dim: d, k: k, seed: seed)
        var labels = [Int32](repeating: -1, count: n), prev = labels
        var dist = [Float](repeating: 0, count: n)
        var its = 0, reseeded = 0
        while true {
            assign(x, count: n, dim: d, centroids: c, k: k, labels: &labels, distances: &dist, plan: plan)
            if its == iterations || (its > 0 && labels == prev) { break }
            swap(&labels, &prev)
            // The new means (float64, in point order).
            var sum = [Double](repeating: 0, count: k * d), cnt = [Int](repeating: 0, count: k)
            x.withUnsafeBufferPointer { xp in sum.withUnsafeMutableBufferPointer { sp in
                for i in 0..<n {
                    let l = Int(prev[i]), row = xp.baseAddress! + i * d, acc = sp.baseAddress! + l * d
                    cnt[l] += 1
                    for j in 0..<d { acc[j] += Double(row[j]) }
                }
            } }
            let empty = (0..<k).filter { cnt[$0] == 0 }
            if !empty.isEmpty {
                // Farthest points first (ties: lower index); each re-seeds one empty cluster.
                let far = (0..<n).sorted { dist[$0] != dist[$1] ? dist[$0] > dist[$1] : $0 < $1 }
                for (e, j) in empty.enumerated() {
                    let p = far[e % n]
                    for q in 0..<d { sum[j * d + q] = Double(x[p * d + q]) }
                    cnt[j] = 1
                }
                reseeded += empty.count
            }
            for j in 0..<k { for q in 0..<d { c[j * d + q] = Float(sum[j * d + q] / Double(cnt[j])) } }
            its += 1
        }
        var total = 0.0
        for v in dist { total += Double(v) }
        return Result(centroids: c, labels: labels, distortion: total / Double(n), iterations: its, reseeded: reseeded)
    }

    /// Nearest centroid of each point: labels[i] (ties: the lower index) and its squared distance (clamped at 0).
    public static func assign(_ x: [Float], count n: Int, dim d: Int, centroids c: [Float], k: Int,
                              labels: inout [Int32], distances: inout [Float], plan: ExecutionPlan = .automatic) {
        require(x.count == n * d && c.count == k * d && labels.count == n && distances.count == n)
        let cn = rowNorms(c, count: k, dim: d)
        let blocks = (n + blockRows - 1) / blockRows
        let workers = min(plan.workers, max(1, blocks))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * blockRows * k)
        defer { scratch.deallocate() }
        x.withUnsafeBufferPointer { xb in c.withUnsafeBufferPointer { cb in cn.withUnsafeBufferPointer { cnb in
        labels.withUnsafeMutableBufferPointer { lb in distances.withUnsafeMutableBufferPointer { db in
            let xp = xb.baseAddress!, cp = cb.baseAddress!, cnp = cnb.baseAddress!
            let lp = lb.baseAddress!, dp = db.baseAddress!
            BLAS.withOneThread {
                plan.dynamic(blocks) { w, b in
                    let r0 = b * blockRows, rows = min(blockRows, n - r0), s = scratch + w * blockRows * k
                    // s [rows, k] = -2 x c^T
                    BLAS.sgemm(transA: false, transB: true, m: rows, n: k, k: d, alpha: -2, a: xp + r0 * d, lda: d,
                               b: cp, ldb: d, beta: 0, c: s, ldc: k)
                    for i in 0..<rows {
                        let row = s + i * k
                        var best = 0, bv = row[0] + cnp[0]
                        for j in 1..<max(1, k) { let v = row[j] + cnp[j]; if v < bv { bv = v; best = j } }
                        var xx: Float = 0
                        let xr = xp + (r0 + i) * d
                        for q in 0..<d { xx += xr[q] * xr[q] }
                        lp[r0 + i] = Int32(best)
                        dp[r0 + i] = max(0, xx + bv)
                    }
                }
            }
        } } } } }
    }

    /// Squared L2 norm of each row of x [n, d].
    static func rowNorms(_ x: [Float], count n: Int, dim d: Int) -> [Float] {
        (0..<n).map { i in
            var s: Float = 0
            for q in 0..<d { s += x[i * d + q] * x[i * d + q] }
            return s
        }
    }

    /// k-means++ seeding on a seeded subsample: the first centroid uniform, each next one drawn with probability
    /// proportional to the squared distance to the nearest centroid chosen so far.
    static func seedPlusPlus(_ x: [Float], count n: Int, dim d: Int, k: Int, seed: UInt64) -> [Float] {
        var rng = RNG(seed: seed, stream: 0x6b6d_6561_6e73)   // "kmeans"
        var pool = Array(0..<n)
        let m = min(n, max(k, seedingSample(k)))
        if m < n {   // partial Fisher-Yates: the first m of a seeded shuffle
            for i in 0..<m { pool.swapAt(i, i + rng.below(n - i)) }
            pool = Array(pool[0..<m]).sorted()
        }
        var sub = [Float](repeating: 0, count: m * d)
        for (i, p) in pool.enumerated() { for q in 0..<d { sub[i * d + q] = x[p * d + q] } }
        let sn = rowNorms(sub, count: m, dim: d)
        var c = [Float](repeating: 0, count: k * d)
        var near = [Float](repeating: .infinity, count: m), dots = [Float](repeating: 0, count: m)
        var chosen = rng.below(m)
        for j in 0..<k {
            for q in 0..<d { c[j * d + q] = sub[chosen * d + q] }
            if j == k - 1 { break }
            // dots = sub c_j (sgemv), then the nearest squared distance so far.
            sub.withUnsafeBufferPointer { sp in c.withUnsafeBufferPointer { cp in dots.withUnsafeMutableBufferPointer { dp in
                BLAS.sgemv(trans: false, m: m, n: d, alpha: 1, a: sp.baseAddress!, lda: d, x: cp.baseAddress! + j * d,
                           beta: 0, y: dp.baseAddress!)
            } } }
            let cj = sn[chosen]
            var total = 0.0
            for i in 0..<m {
                let v = max(0, sn[i] - 2 * dots[i] + cj)
                if v < near[i] { near[i] = v }
                total += Double(near[i])
            }
            if total <= 0 { chosen = rng.below(m); continue }   // every point is a centroid already
            var r = rng.uniform() * total, pick = m - 1
            for i in 0..<m {
                r -= Double(near[i])
                if r < 0 && near[i] > 0 { pick = i; break }
            }
            chosen = pick
        }
        return c
    }
}
