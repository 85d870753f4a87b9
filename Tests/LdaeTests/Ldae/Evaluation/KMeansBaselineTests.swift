import Foundation
import XCTest
@testable import Ldae

/// The kmeans baseline in an evaluation: fitted on the probe's training side only, recorded, its usage errors.
final class KMeansBaselineTests: XCTestCase {
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
            o.val = val; o.baselines = [.kmeans]; o.kmeans = Self.smallSettings
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
        XCTAssertTrue(err.contains("--baseline must be one of pixels, random or kmeans, got 'kmans'"), err)
        (code, err) = try run(["--baseline", "pixels", "--kmeans-k", "8"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("--kmeans-k goes with --baseline kmeans"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-activation", "soft"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("must be one of triangle or hard, got 'soft'"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-k", "5000", "--kmeans-patches", "1000"])
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("--kmeans-patches (1000) must be at least --kmeans-k (5000)"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-patch", "8"])   // 8 px images: a 1 x 1 map, pool 2
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("needs images of at least 9 pixels"), err)
        (code, err) = try run(["--baseline", "kmeans", "--kmeans-no-whiten", "--kmeans-whiten-eps", "0.1"])
        XCTAssertEqual(code, 2, err)
    }
}
