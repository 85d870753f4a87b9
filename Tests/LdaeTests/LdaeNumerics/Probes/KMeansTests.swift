import Foundation
import XCTest
@testable import Ldae

/// The `kmeans` baseline (Coates, Lee & Ng 2011): k-means, ZCA, the triangle map, pooling, the fit's data, the CLI
/// and the record.
final class KMeansTests: XCTestCase {
    /// Points around `c` centres [c, d] drawn far apart (coordinates uniform in [-50, 50]) with noise of sd 0.5,
    /// in a seeded shuffled order; returns the points and each point's true cluster.
    static func clusters(_ n: Int, centres c: Int, dim d: Int, seed: UInt64) -> ([Float], [Int]) {
        var rng = RNG(seed: seed)
        let centres = (0..<(c * d)).map { _ in Float(100 * rng.uniform() - 50) }
        var truth = (0..<n).map { $0 % c }
        rng.shuffle(&truth)
        var x = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for q in 0..<d { x[i * d + q] = centres[truth[i] * d + q] + Float(0.5 * rng.normal()) } }
        return (x, truth)
    }

    /// Every found cluster holds one true cluster's points only, and every true cluster is one found cluster.
    func assertPure(_ labels: [Int32], _ truth: [Int], k: Int, _ msg: String) {
        var map: [Int: Int32] = [:], back: [Int32: Int] = [:]
        var bad = 0
        for (l, t) in zip(labels, truth) {
            if let m = map[t], m != l { bad += 1 }
            if let b = back[l], b != t { bad += 1 }
            map[t] = l; back[l] = t
        }
        XCTAssertEqual(bad, 0, "assignment purity below 1 (\(msg))")
        XCTAssertEqual(Set(labels).count, k, msg)
    }

    func testKMeansRecoversSeparatedClustersAndIsDeterministic() {
        // 600 points (the whole set seeds k-means++) and 30,000 (a subsample seeds it; 30 blocks of 1,024 points).
        for (n, k, d) in [(600, 6, 8), (30_000, 5, 3)] {
            let (x, truth) = Self.clusters(n, centres: k, dim: d, seed: 7)
            let a = KMeans.fit(x, count: n, dim: d, k: k, iterations: 20, seed: 1, plan: ExecutionPlan(threads: 2))
            assertPure(a.labels, truth, k: k, "n \(n)")
            XCTAssertLessThan(a.distortion, Double(d) * 0.25 * 1.2, "mean squared distance ~ d * 0.5^2")
            XCTAssertLessThan(a.iterations, 20, "converged: an assignment that changes nothing stops it")
            // Same seed: the same centroids bit for bit, on one thread or two.
            let b = KMeans.fit(x, count: n, dim: d, k: k, iterations: 20, seed: 1, plan: ExecutionPlan(threads: 1))
            XCTAssertEqual(a.centroids, b.centroids)
            XCTAssertEqual(a.labels, b.labels)
            // Another seed finds the same partition (the clusters are unambiguous) from another start.
            let c = KMeans.fit(x, count: n, dim: d, k: k, iterations: 20, seed: 2)
            assertPure(c.labels, truth, k: k, "seed 2, n \(n)")
        }
    }

    func testEmptyClustersAreReseededDeterministically() {
        // 4 distinct points, each repeated 10 times, and k = 5: two centroids coincide, the one with the higher index
        // gets no points (ties go to the lower index) and is re-seeded, the same way on every run.
        let pts: [[Float]] = [[0, 0], [10, 0], [0, 10], [10, 10]]
        var x: [Float] = []
        for i in 0..<40 { x += pts[i % 4] }
        let a = KMeans.fit(x, count: 40, dim: 2, k: 5, iterations: 5, seed: 3)
        let b = KMeans.fit(x, count: 40, dim: 2, k: 5, iterations: 5, seed: 3)
        XCTAssertEqual(a.centroids, b.centroids)
        XCTAssertGreaterThan(a.reseeded, 0, "a duplicated centroid leaves a cluster empty")
        XCTAssertEqual(a.distortion, 0, accuracy: 1e-6, "every point sits on a centroid")
        XCTAssertTrue(a.centroids.allSatisfy { $0.isFinite })
    }

    func testZCAWhitensToIdentityCovariance() throws {
        // Correlated rows: x = z A, z standard normal. With eps 1e-8 the whitened covariance on the fitted rows is the
        // identity to within 1e-3 (float32 products, float64 statistics).
        var rng = RNG(seed: 11)
        let n = 4000, d = 10
        let a = (0..<(d * d)).map { _ in Float(rng.normal()) }
        let z = (0..<(n * d)).map { _ in Float(rng.normal()) }
        var x = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { var s: Float = 3; for q in 0..<d { s += z[i * d + q] * a[q * d + j] }; x[i * d + j] = s } }
        let zca = try ZCAWhitening(fit: x, count: n, dim: d, eps: 1e-8)
        var w = x
        x.withUnsafeBufferPointer { xp in w.withUnsafeMutableBufferPointer { zca.apply(xp.baseAddress!, rows: n, into: $0.baseAddress!) } }
        let cov = Self.covariance(w, n, d)
        for i in 0..<d { for j in 0..<d { XCTAssertEqual(cov[i * d + j], i == j ? 1 : 0, accuracy: 1e-3, "cov[\(i), \(j)]") } }

        // The baseline's own fit: normalised 3x3 patches of synthetic images, eps 0.1. Normalised patches sum to 0
        // (one zero eigenvalue), so the whitened covariance is V diag(lambda / (lambda + eps)) V^T: within 1e-3.
        let tmp = TestSupport.tempDir()
        let set = try ZooEvalTests.shards(tmp + "/s", n: 40, seed: 1)
        var s = KMeansFeatures.Settings()
        s.patchSize = 3; s.centroids = 4; s.patches = 3000
        let p = try KMeansFeatures.samplePatches(ShardSet(set), indices: Array(0..<40), settings: s, seed: 0)
        let pd = 27, pn = p.count / pd
        XCTAssertEqual(pn, 3000)
        let zp = try ZCAWhitening(fit: p, count: pn, dim: pd, eps: 0.1)
        var pw = p
        p.withUnsafeBufferPointer { xp in pw.withUnsafeMutableBufferPointer { zp.apply(xp.baseAddress!, rows: pn, into: $0.baseAddress!) } }
        let c2 = Self.covariance(pw, pn, pd)
        let vecs = try LAPACK.symmetricEigen(Self.covariance(p, pn, pd), n: pd).vectors
        var worst = 0.0
        for i in 0..<pd { for j in 0..<pd {
            var e = 0.0
            for q in 0..<pd { let l = max(0, zp.eigenvalues[q]); e += vecs[q * pd + i] * vecs[q * pd + j] * l / (l + 0.1) }
            worst = max(worst, abs(c2[i * pd + j] - e))
        } }
        XCTAssertLessThan(worst, 1e-3)
        XCTAssertLessThan(zp.eigenvalues[0], 1e-6, "normalised patches have zero mean: one zero eigenvalue")
        XCTAssertGreaterThan(zp.eigenvalues[1], 1e-2, "the rest are not")
    }

    static func covariance(_ x: [Float], _ n: Int, _ d: Int) -> [Double] {
        var m = [Double](repeating: 0, count: d), c = [Double](repeating: 0, count: d * d)
        for i in 0..<n { for j in 0..<d { m[j] += Double(x[i * d + j]) / Double(n) } }
        for i in 0..<n { for a in 0..<d { let u = Double(x[i * d + a]) - m[a]; for b in 0..<d { c[a * d + b] += u * (Double(x[i * d + b]) - m[b]) } } }
        return c.map { $0 / Double(n - 1) }
    }

    /// A small fit (8x8 images, 3x3 patches, K = 7) on random images.
    static func smallFit(_ activation: KMeansFeatures.Activation, whiten: Bool = true) throws -> (KMeansFeatures, [[Float]]) {
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        var rng = RNG(seed: 5)
        let imgs = (0..<12).map { _ in (0..<(8 * 8 * 3)).map { _ in PixelScaling.table[rng.below(256)] } }
        var s = KMeansFeatures.Settings()
        s.patchSize = 3; s.centroids = 7; s.patches = 400; s.iterations = 10; s.activation = activation; s.whiten = whiten
        var x: [Float] = []
        for i in 0..<400 {   // random patches of the (S, S, C) images, normalised as the fit does
            let im = imgs[i % 12], y = rng.below(6), xx = rng.below(6)
            for dy in 0..<3 { for dx in 0..<3 { for c in 0..<3 { x.append(im[((y + dy) * 8 + xx + dx) * 3 + c]) } } }
        }
        x.withUnsafeMutableBufferPointer { PatchNormalization.apply($0.baseAddress!, rows: 400, dim: 27, eps: 10) }
        let f = try KMeansFeatures(fitting: x, geometry: g, images: 12, settings: s, seed: 0)
        return (f, imgs.map { g.patchify($0) })
    }

    func testTriangleActivationMatchesNaiveReference() throws {
        for act in KMeansFeatures.Activation.allCases {
            for whiten in [true, false] {
                let (f, imgs) = try Self.smallFit(act, whiten: whiten)
                let g = f.geometry, k = 7, d = 27, m = 6
                let img = g.unpatchify(imgs[3])
                let map = f.activationMap(imgs[3])
                XCTAssertEqual(map.count, m * m * k)
                var worst: Float = 0
                for y in 0..<m { for x in 0..<m {
                    // The patch in (row, col, channel) order, normalised in 0..255 units (var with n - 1), whitened.
                    var v: [Double] = []
                    for dy in 0..<3 { for dx in 0..<3 { for c in 0..<3 { v.append((Double(img[((y + dy) * 8 + x + dx) * 3 + c]) + 1) * 127.5) } } }
                    let mean = v.reduce(0, +) / Double(d)
                    let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d - 1)
                    var p = v.map { ($0 - mean) / (variance + 10).squareRoot() }
                    if let z = f.whitening {
                        p = (0..<d).map { j in (0..<d).reduce(0.0) { $0 + (p[$1] - Double(z.mean[$1])) * Double(z.matrix[$1 * d + j]) } }
                    }
                    let dist = (0..<k).map { c in (0..<d).reduce(0.0) { $0 + pow(p[$1] - Double(f.centroids[c * d + $1]), 2) }.squareRoot() }
                    let mu = dist.reduce(0, +) / Double(k)
                    let nearest = dist.indices.min { dist[$0] < dist[$1] }!
                    for c in 0..<k {
                        let want = act == .triangle ? max(0, mu - dist[c]) : (c == nearest ? 1 : 0)
                        worst = max(worst, abs(map[(y * m + x) * k + c] - Float(want)))
                    }
                } }
                XCTAssertLessThan(worst, 1e-4, "\(act), whiten \(whiten) (float32 against float64; measured ~1e-6)")
                // Triangle: about half the centroids are active at a position (those nearer than the mean distance).
                if act == .triangle { XCTAssertGreaterThan(map.filter { $0 > 0 }.count, m * m) }
                // encode (a batch, two threads) = the map of each image summed into its quadrants.
                let b = 4
                var xb: [Float] = []
                for i in 0..<b { xb += imgs[i] }
                var out = [Float](repeating: .nan, count: b * f.settings.width)
                xb.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
                    f.encode(xp.baseAddress!, batch: b, into: $0.baseAddress!, plan: ExecutionPlan(threads: 2))
                } }
                for i in 0..<b {
                    let mi = f.activationMap(imgs[i])
                    var want = [Float](repeating: 0, count: 4 * k)
                    mi.withUnsafeBufferPointer { mp in want.withUnsafeMutableBufferPointer {
                        KMeansFeatures.poolRows(mp.baseAddress!, firstRow: 0, rows: m * m, side: m, k: k, cells: 2, into: $0.baseAddress!)
                    } }
                    for j in 0..<(4 * k) { XCTAssertEqual(out[i * 4 * k + j], want[j], accuracy: 1e-4) }
                }
            }
        }
    }

    func testQuadrantPoolingSumsTheRightPositions() {
        // The paper's quadrants of a 27 x 27 map (32 px, 6 px patches): positions 0..13 and 14..26.
        XCTAssertEqual(KMeansFeatures.cellBounds(side: 27, cells: 2), [0, 14, 27])
        XCTAssertEqual(KMeansFeatures.cellBounds(side: 5, cells: 2), [0, 3, 5])
        XCTAssertEqual(KMeansFeatures.cellBounds(side: 6, cells: 3), [0, 2, 4, 6])
        XCTAssertEqual(KMeansFeatures.cellBounds(side: 5, cells: 1), [0, 5])
        // A 5 x 5 map with 2 values per position: map(y, x, j) = 100 y + 10 x + j. Cells rows/cols {0,1,2} | {3,4}.
        let m = 5, k = 2
        var map = [Float](repeating: 0, count: m * m * k)
        for y in 0..<m { for x in 0..<m { for j in 0..<k { map[(y * m + x) * k + j] = Float(100 * y + 10 * x + j) } } }
        func pooled(_ splits: [Int]) -> [Float] {
            var out = [Float](repeating: 0, count: 4 * k)
            map.withUnsafeBufferPointer { mp in out.withUnsafeMutableBufferPointer { op in
                for (a, b) in zip(splits, splits.dropFirst()) {
                    KMeansFeatures.poolRows(mp.baseAddress! + a * k, firstRow: a, rows: b - a, side: m, k: k, cells: 2, into: op.baseAddress!)
                }
            } }
            return out
        }
        // (0,0): rows 0-2 x cols 0-2: 100*3*(0+1+2) + 10*3*(0+1+2) + 9j; (0,1): rows 0-2 x cols 3-4: 100*2*3 + 10*3*7 + 6j;
        // (1,0): rows 3-4 x cols 0-2: 100*3*7 + 10*2*3 + 6j; (1,1): rows 3-4 x cols 3-4: 100*2*7 + 10*2*7 + 4j.
        let want: [Float] = [990, 999, 810, 816, 2160, 2166, 1540, 1544]
        XCTAssertEqual(pooled([0, 25]), want)
        XCTAssertEqual(pooled([0, 7, 8, 19, 25]), want, "in blocks of rows, as encode feeds it")
        // One active position (row 2, col 3) lands in cell (0, 1) only.
        map = [Float](repeating: 0, count: m * m * k); map[(2 * m + 3) * k + 1] = 1
        XCTAssertEqual(pooled([0, 25]), [0, 0, 0, 1, 0, 0, 0, 0])
    }
}
