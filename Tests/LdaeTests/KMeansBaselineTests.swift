import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics
@testable import LdaeSupport

/// The `kmeans` baseline (Coates, Lee & Ng 2011): k-means, ZCA, the triangle map, pooling, the fit's data, the CLI
/// and the record.
final class KMeansBaselineTests: XCTestCase {
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

    /// Test images that all have one value: were they part of the fit, the centroids would change.
    static func constantShards(_ dir: String, n: Int) throws -> String {
        let imgs = (0..<n).map { i in [UInt8](repeating: UInt8(i % 2 == 0 ? 0 : 255), count: 8 * 8 * 3) }
        try TestSupport.makeShards(dir: dir, images: imgs, labels: (0..<n).map { Int32($0 % 4) }, imageSize: 8, patchSize: 4,
                                   classNames: (0..<4).map { "class\($0)" }, perShard: 25)
        return dir
    }

    static var smallSettings: KMeansFeatures.Settings {
        var s = KMeansFeatures.Settings()
        s.patchSize = 3; s.centroids = 8; s.patches = 600; s.iterations = 10
        return s
    }

    func testBaselineIsFitOnTheTrainingImagesOnly() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let tr = try ZooEvalTests.shards(tmp + "/train", n: 60, seed: 1)
        let teA = try ZooEvalTests.shards(tmp + "/test", n: 20, seed: 2), teB = try Self.constantShards(tmp + "/const", n: 20)
        func run(_ te: String, val: HoldOut? = nil) throws -> (EvalRecord, KMeansFeatures.FitRecord) {
            var o = Evaluation.Options(train: [tr], test: [te])
            o.val = val; o.baselines = ["kmeans"]; o.kmeans = Self.smallSettings
            o.batch = 16; o.probe.maxIterations = 20; o.knn.k = 5; o.denoiseImages = 0
            let r = try store.evaluate("micro", options: o, record: false)
            return (r, try XCTUnwrap(r.baselines["kmeans"]?.kmeans))
        }
        let (ra, ka) = try run(teA), (_, kb) = try run(teB)
        XCTAssertEqual(ka.images, 60); XCTAssertEqual(ka.images, ra.train.used)
        XCTAssertEqual(ka.centroidsSHA256, kb.centroidsSHA256, "the test images do not change the fit")
        // The same as a fit on exactly the training images; a fit that also saw the test images differs.
        let direct = try KMeansFeatures.fit(ShardSet(tr), indices: Array(0..<60), settings: Self.smallSettings, seed: 0)
        XCTAssertEqual(direct.record.centroidsSHA256, ka.centroidsSHA256)
        let both = try ShardSet([tr, teB])
        let leaked = try KMeansFeatures.fit(both, indices: Array(0..<80), settings: Self.smallSettings, seed: 0)
        XCTAssertNotEqual(leaked.record.centroidsSHA256, ka.centroidsSHA256, "the check can fail")
        // --val: only the part of --train left after the held-out split.
        let h = HoldOut(fraction: 0.25, seed: 4)
        let (rv, kv) = try run(teA, val: h)
        XCTAssertEqual(kv.images, 45); XCTAssertEqual(rv.train.used, 45)
        let onTrainPart = try KMeansFeatures.fit(ShardSet(tr), indices: h.split(count: 60).train, settings: Self.smallSettings, seed: 0)
        XCTAssertEqual(onTrainPart.record.centroidsSHA256, kv.centroidsSHA256)
        // Another seed, other centroids (seeded, not fixed).
        let other = try KMeansFeatures.fit(ShardSet(tr), indices: Array(0..<60), settings: Self.smallSettings, seed: 1)
        XCTAssertNotEqual(other.record.centroidsSHA256, ka.centroidsSHA256)
    }

    func testCLIRecordsTheSettingsAndFitTime() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        let (_, dir) = try ZooEvalTests.publishModel(store)
        let tr = try ZooEvalTests.shards(tmp + "/train", n: 40, seed: 1), te = try ZooEvalTests.shards(tmp + "/test", n: 20, seed: 2)
        let env = ["LDAE_ZOO": store.root]
        let (code, out, err) = try TestSupport.run("ldae-zoo", [
            "eval", "micro", "--train", tr, "--test", te, "--baseline", "pixels,kmeans", "--kmeans-k", "12", "--kmeans-patch", "3",
            "--kmeans-patches", "500", "--kmeans-iters", "7", "--kmeans-activation", "hard", "--kmeans-pool", "3",
            "--kmeans-whiten-eps", "0.2", "--seed", "5", "--knn-k", "5", "--probe-iters", "20", "--denoise-images", "0"], env: env)
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("kmeans: K = 12 centroids of 3x3 patches") && out.contains("hard activation")
                      && out.contains("3x3 sum pooling -> 108 features") && out.contains("500 patches of 40 training images")
                      && out.contains("fit ") && out.contains("k-means "), out)
        let line = try String(contentsOfFile: dir + "/evals.jsonl", encoding: .utf8).split(separator: "\n").last!
        let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let km = (json["baselines"] as! [String: Any])["kmeans"] as! [String: Any]
        XCTAssertEqual(km["feature_dim"] as? Int, 108)
        let fit = km["kmeans"] as! [String: Any], s = fit["settings"] as! [String: Any]
        XCTAssertEqual(s["centroids"] as? Int, 12); XCTAssertEqual(s["patch_size"] as? Int, 3)
        XCTAssertEqual(s["patches"] as? Int, 500); XCTAssertEqual(s["iterations"] as? Int, 7)
        XCTAssertEqual(s["activation"] as? String, "hard"); XCTAssertEqual(s["pool"] as? Int, 3)
        XCTAssertEqual(s["whiten"] as? Bool, true); XCTAssertEqual(s["whiten_eps"] as? Double, 0.2)
        XCTAssertEqual(s["norm_eps"] as? Double, 10)
        XCTAssertEqual(fit["seed"] as? Int, 5); XCTAssertEqual(fit["images"] as? Int, 40); XCTAssertEqual(fit["patches"] as? Int, 500)
        for key in ["fit_seconds", "kmeans_seconds", "whiten_seconds", "sample_seconds"] {
            XCTAssertGreaterThanOrEqual(fit[key] as? Double ?? -1, 0, key)
        }
        let f = fit["fit_seconds"] as! Double, w = fit["whiten_seconds"] as! Double, k = fit["kmeans_seconds"] as! Double
        XCTAssertEqual(f, w + k, accuracy: 1e-6, "fit time = whitening + k-means")
        XCTAssertGreaterThan(k, 0)
        XCTAssertEqual((fit["centroids_sha256"] as? String)?.count, 64)
        // The record reads back typed; the other rows carry no kmeans fit; card and show list the row.
        let rec = try XCTUnwrap(EvalRecord.readAll(dir + "/evals.jsonl").records.last)
        XCTAssertEqual(rec.baselines["kmeans"]?.kmeans?.settings.activation, .hard)
        XCTAssertNil(rec.baselines["pixels"]?.kmeans)
        let card = try String(contentsOfFile: dir + "/README.md", encoding: .utf8)
        XCTAssertTrue(card.contains("| kmeans | 108 |") && card.contains("kmeans (Coates, Lee & Ng 2011): K = 12"), card)
        let (c2, show, e2) = try TestSupport.run("ldae-zoo", ["show", "micro"], env: env)
        XCTAssertEqual(c2, 0, e2); XCTAssertTrue(show.contains("kmeans lp"), show)
        // --kmeans-no-whiten is recorded.
        let (c3, _, e3) = try TestSupport.run("ldae-zoo", [
            "eval", "micro", "--train", tr, "--test", te, "--baseline", "kmeans", "--kmeans-k", "4", "--kmeans-patch", "3",
            "--kmeans-patches", "100", "--kmeans-no-whiten", "--knn-k", "5", "--probe-iters", "5", "--denoise-images", "0"], env: env)
        XCTAssertEqual(c3, 0, e3)
        XCTAssertEqual(EvalRecord.readAll(dir + "/evals.jsonl").records.last?.baselines["kmeans"]?.kmeans?.settings.whiten, false)
    }

    func testCLIUsageErrors() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let tr = try ZooEvalTests.shards(tmp + "/train", n: 20, seed: 1)
        let env = ["LDAE_ZOO": store.root]
        func run(_ extra: [String]) throws -> (Int32, String) {
            let (code, _, err) = try TestSupport.run("ldae-zoo", ["eval", "micro", "--train", tr, "--val", "--denoise-images", "0"] + extra, env: env)
            return (code, err)
        }
        var (code, err) = try run(["--baseline", "kmans"])
        XCTAssertEqual(code, 2, err)
        XCTAssertTrue(err.contains("--baseline must be one of pixels, random, kmeans, got 'kmans'"), err)
        (code, err) = try run(["--baseline", "pixels", "--kmeans-k", "8"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("--kmeans-k goes with --baseline kmeans"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-activation", "soft"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("triangle, hard"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-k", "5000", "--kmeans-patches", "1000"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("--kmeans-patches (1000) must be at least --kmeans-k (5000)"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-patch", "8"])   // 8 px images: a 1 x 1 map, pool 2
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("needs images of at least 9 pixels"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-no-whiten", "--kmeans-whiten-eps", "0.1"])
        XCTAssertEqual(code, 2, err)
    }
}
