import Foundation
import XCTest
@testable import Ldae

/// eval / features on a micro model published into a temporary zoo, synthetic labeled shards, and the CLI.
final class ZooEvalTests: XCTestCase {
    static let S = 8, P = 4

    /// Images whose class is visible in the pixels: class c brightens channel c % 3 and a class-specific quadrant.
    static func images(_ n: Int, classes: Int, seed: UInt64) -> ([[UInt8]], [Int32]) {
        var rng = RNG(seed: seed)
        var imgs: [[UInt8]] = [], labels: [Int32] = []
        for i in 0..<n {
            let c = i % classes
            var img = [UInt8](repeating: 0, count: S * S * 3)
            for y in 0..<S { for x in 0..<S { for ch in 0..<3 {
                var v = 60.0 + 40 * rng.uniform()
                if ch == c % 3 { v += 90 }
                if (y < S / 2) == (c % 2 == 0) && (x < S / 2) == (c < 2) { v += 60 }
                img[(y * S + x) * 3 + ch] = UInt8(min(255, v))
            } } }
            imgs.append(img); labels.append(Int32(c))
        }
        return (imgs, labels)
    }

    static func shards(_ dir: String, n: Int, classes: Int = 4, seed: UInt64, names: [String]? = nil, labeled: Bool = true,
                       patch: Int = P) throws -> String {
        let (imgs, labels) = images(n, classes: classes, seed: seed)
        try TestSupport.makeShards(dir: dir, images: imgs, labels: labeled ? labels : labels.map { _ in -1 }, imageSize: S,
                                   patchSize: patch, classNames: labeled ? (names ?? (0..<classes).map { "class\($0)" }) : [],
                                   perShard: 25)
        return dir
    }

    static var microConfig: ModelConfig {
        var c = ModelPreset.micro.config
        c.imageSize = S; c.patchSize = P
        return c
    }

    /// Publishes a micro model (random weights, seed 3) with an identity PCA basis (d = 8) into `store`.
    @discardableResult
    static func publishModel(_ store: ZooStore, name: String = "micro", config: ModelConfig = microConfig) throws -> (LDAEModel, String) {
        let model = try LDAEModel(config: config, seed: 3)
        let st = try store.makeStaging(name)
        try Safetensors.write(model.exportTensors(), to: st + "/weights.safetensors")
        let D = config.tokenDim
        var eye = [Float](repeating: 0, count: D * D)
        for i in 0..<D { eye[i * D + i] = 1 }
        try PCABasis(mean: [Float](repeating: 0, count: D), components: eye, eigenvalues: (0..<D).map { Float(D - $0) },
                     patchSize: config.patchSize, channels: 3, sampleCount: 1, indexSHA256: "x").save(st + "/pca.h5")
        var tc = TrainConfig(); tc.latentDim = 8
        let m = Manifest(name: name, model: config, tokenizer: .init(kind: .pca, latentDim: 8, patchSize: config.patchSize, pcaFile: "pca.h5", pcaSHA256: nil),
                         training: tc, data: .init(indexSHA256: "x", images: 10, sources: [], classNames: []), seed: 3, steps: 1,
                         epochs: 1, finalLoss: 1, parameterCount: model.parameterCount, encoderParameterCount: model.encoderParameterCount,
                         trainSeconds: 1, weightsDtype: "F32")
        let (_, dir) = try store.publish(staging: st, manifest: m)
        return (model, dir)
    }

    func testEvalRecordsProbeKNNBaselinesAndDenoising() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        let (_, dir) = try Self.publishModel(store)
        let tr = try Self.shards(tmp + "/train", n: 80, seed: 1), te = try Self.shards(tmp + "/test", n: 40, seed: 2)
        var o = Evaluation.Options(train: [tr], test: [te])
        o.baselines = [.pixels, .random]
        o.batch = 16; o.probe.maxIterations = 50; o.knn.k = 5
        o.denoiseT = [100, 500, 900]; o.denoiseImages = 12; o.figureDir = tmp + "/fig"
        let r = try store.evaluate("micro", options: o)
        XCTAssertEqual(r.model, "micro@v1")
        XCTAssertEqual(r.train.used, 80); XCTAssertEqual(r.test.used, 40)
        XCTAssertEqual(r.metrics.featureDim, 32)
        XCTAssertEqual(r.baselines["pixels"]!.featureDim, Self.S * Self.S * 3)
        // The classes are visible in the pixels: the pixel probe and k-NN solve them.
        XCTAssertGreaterThan(r.baselines["pixels"]!.linearProbe.top1, 0.9)
        XCTAssertGreaterThan(r.baselines["pixels"]!.knn.top1, 0.9)
        for m in [r.metrics, r.baselines["random"]!] {
            XCTAssert((0...1).contains(m.linearProbe.top1) && m.linearProbe.top5 >= m.linearProbe.top1)
        }
        let d = try XCTUnwrap(r.denoising)
        XCTAssertEqual(d.levels.map { $0.t }, [100, 500, 900])
        // More noise, lower PSNR of the noisy input (ldae schedule: sigma rises with t).
        XCTAssertGreaterThan(d.levels[0].psnrNoisy, d.levels[1].psnrNoisy)
        XCTAssertGreaterThan(d.levels[1].psnrNoisy, d.levels[2].psnrNoisy)
        XCTAssertLessThan(d.levels[0].sigma, d.levels[2].sigma)
        XCTAssertNotNil(d.psnrPCACeiling)
        XCTAssertNotNil(d.levels[0].psnrModelProjected)
        XCTAssertTrue(FileUtil.exists(try XCTUnwrap(d.figure)))
        // Recorded: one line, then a second appended.
        let lines1 = try String(contentsOfFile: dir + "/evals.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines1.count, 1)
        o.baselines = []; o.denoiseImages = 0
        _ = try store.evaluate("micro@v1", options: o)
        let lines2 = try String(contentsOfFile: dir + "/evals.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines2.count, 2); XCTAssertEqual(lines2[0], lines1[0])
        // The entry still verifies (evals.jsonl is outside the hashed files).
        XCTAssertNoThrow(try store.load("micro"))
        let text = Evaluation.render(r)
        XCTAssertTrue(text.contains("pixels") && text.contains("random") && text.contains("PCA-only ceiling"))
    }

    func testNoiseFreeLevelGivesThePCACeiling() throws {
        // At t = 1 (sigma = 0 under the ldae schedule) the corrupted input is the clean image projected to d
        // components, so its PSNR is the PCA-only ceiling.
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try Self.publishModel(store)
        let te = try Self.shards(tmp + "/test", n: 10, seed: 2)
        let zm = try ZooModel(store: store, ref: "micro")
        let set = try ShardSet(te)
        let clean = try FeatureExtractor.images(set, indices: Array(0..<10))
        let obj = try LDAEObjective(config: zm.manifest.training, pca: zm.pca, geometry: set.geometry)
        let out = try DenoiseEval.run(model: zm.model, objective: obj, schedule: NoiseSchedule(zm.manifest.training), pca: zm.pca,
                                      clean: clean, count: 10, levels: [1], seed: 0)
        XCTAssertEqual(out.result.levels[0].sigma, 0, accuracy: 1e-12)
        XCTAssertEqual(out.result.levels[0].psnrNoisy, try XCTUnwrap(out.result.psnrPCACeiling), accuracy: 1e-3)
        XCTAssertThrowsError(try DenoiseEval.run(model: zm.model, objective: obj, schedule: NoiseSchedule(zm.manifest.training),
                                                 pca: zm.pca, clean: clean, count: 10, levels: [0], seed: 0))
    }

    func testEvalErrors() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try Self.publishModel(store)
        let tr = try Self.shards(tmp + "/train", n: 20, seed: 1)
        func run(_ test: String, train: String? = nil) -> String {
            do { _ = try store.evaluate("micro", options: .init(train: [train ?? tr], test: [test])); return "no error" }
            catch { return "\(error)" }
        }
        let otherNames = try Self.shards(tmp + "/names", n: 8, seed: 2, names: ["a", "b", "c", "d"])
        let e1 = run(otherNames)
        XCTAssertTrue(e1.contains("classes differ") && e1.contains(otherNames), e1)
        let unlabeled = try Self.shards(tmp + "/unl", n: 8, seed: 2, labeled: false)
        let e2 = run(unlabeled)
        XCTAssertTrue(e2.contains("unlabeled") && e2.contains(unlabeled), e2)
        let e2b = run(tr, train: unlabeled)
        XCTAssertTrue(e2b.contains("unlabeled"), e2b)
        let patch2 = try Self.shards(tmp + "/p2", n: 8, seed: 2, patch: 2)
        let e3 = run(patch2)
        XCTAssertTrue(e3.contains("patch_size 2") && e3.contains("patch_size 4") && e3.contains(patch2), e3)
        XCTAssertTrue(run(tmp + "/missing").contains("missing"))
        // A damaged entry is refused, naming the file.
        let w = store.path("micro", 1) + "/weights.safetensors"
        var d = try Data(contentsOf: URL(fileURLWithPath: w)); d[d.count - 1] ^= 1; try d.write(to: URL(fileURLWithPath: w))
        let e4 = run(tr)
        XCTAssertTrue(e4.contains("sha256") && e4.contains(w), e4)
    }

    func testFeaturesCLIMatchesTheLibraryAndWritesLabels() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        let (model, _) = try Self.publishModel(store)
        let te = try Self.shards(tmp + "/test", n: 30, seed: 2)
        let out = tmp + "/f.npy"
        let (code, stdout, stderr) = try TestSupport.run("ldae-zoo", ["features", "micro", te, "--out", out, "--batch", "7", "--zoo", store.root])
        XCTAssertEqual(code, 0, stderr)
        XCTAssertTrue(stdout.contains("[30, 32]"), stdout)
        XCTAssertTrue(FileUtil.exists(tmp + "/f.labels.npy"))
        // Parse the .npy and compare with the library on the same images.
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(Array(data.prefix(6)), [0x93] + Array("NUMPY".utf8))
        let hl = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + hl)], as: UTF8.self)
        XCTAssertTrue(header.contains("'<f4'") && header.contains("(30, 32)"), header)
        let vals: [Float] = data[(10 + hl)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let set = try ShardSet(te)
        let x = try FeatureExtractor.images(set, indices: Array(0..<30))
        var ref = [Float](repeating: 0, count: 30 * 32)
        x.withUnsafeBufferPointer { xp in ref.withUnsafeMutableBufferPointer { model.features(xp.baseAddress!, t: nil, batch: 30, out: $0.baseAddress!) } }
        XCTAssertEqual(vals.count, ref.count)
        for i in 0..<ref.count { XCTAssertEqual(vals[i], ref[i], accuracy: 1e-5) }
    }

    func testCLIListShowEvalAndErrors() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try Self.publishModel(store)
        try Self.publishModel(store)
        let tr = try Self.shards(tmp + "/train", n: 40, seed: 1), te = try Self.shards(tmp + "/test", n: 20, seed: 2)
        let env = ["LDAE_ZOO": store.root]
        var (code, out, err) = try TestSupport.run("ldae-zoo", ["eval", "micro@v1", "--train", tr, "--test", te, "--baseline", "pixels",
                                                                "--knn-k", "5", "--probe-iters", "20", "--denoise-images", "4",
                                                                "--figures", tmp + "/fig"], env: env)
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("linear top-1") && out.contains("pixels") && out.contains("recorded in"), out)
        (code, out, err) = try TestSupport.run("ldae-zoo", ["list"], env: env)
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("micro") && out.contains("v1") && out.contains("v2") && out.contains("vit 32x2 / dec 32x1"), out)
        (code, out, err) = try TestSupport.run("ldae-zoo", ["list", "--json"], env: env)
        XCTAssertEqual(code, 0, err)
        let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
        XCTAssertEqual(json.count, 2)
        XCTAssertNotNil(json[0]["best_linear_probe_top1"] as? Double)   // v1 was evaluated
        XCTAssertNil(json[1]["best_linear_probe_top1"] as? Double)
        (code, out, err) = try TestSupport.run("ldae-zoo", ["show", "micro@1"], env: env)
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("micro@v1") && out.contains("evaluations (1)"), out)
        (code, out, _) = try TestSupport.run("ldae-zoo", ["verify", "micro"], env: env)
        XCTAssertEqual(code, 0); XCTAssertTrue(out.contains("micro@v2"))
        // Errors: one line, exit 1 (2 for usage).
        (code, _, err) = try TestSupport.run("ldae-zoo", ["show", "micro@v7"], env: env)
        XCTAssertEqual(code, 1); XCTAssertTrue(err.hasPrefix("ldae-zoo: error: ") && err.contains("v1, v2")); XCTAssertEqual(err.split(separator: "\n").count, 1)
        (code, _, err) = try TestSupport.run("ldae-zoo", ["eval", "micro", "--train", tr, "--test", te, "--baseline", "imagenet"], env: env)
        XCTAssertEqual(code, 2, err); XCTAssertTrue(err.contains("pixels, random"))
        (code, _, err) = try TestSupport.run("ldae-zoo", ["eval", "micro", "--train", tr], env: env)
        XCTAssertEqual(code, 2, err)
        (code, _, err) = try TestSupport.run("ldae-zoo", ["frobnicate"], env: env)
        XCTAssertEqual(code, 2, err)
        (code, _, err) = try TestSupport.run("ldae-zoo", ["list", "--jsn"], env: env)
        XCTAssertEqual(code, 2, err)
        // Damage a file: list marks it (exit 0), verify fails naming the file.
        let w = store.path("micro", 2) + "/pca.h5"
        var d = try Data(contentsOf: URL(fileURLWithPath: w)); d[d.count / 2] ^= 0x40; try d.write(to: URL(fileURLWithPath: w))
        (code, out, err) = try TestSupport.run("ldae-zoo", ["list"], env: env)
        XCTAssertEqual(code, 0, err); XCTAssertTrue(out.contains("DAMAGED") && out.contains("pca.h5"), out)
        (code, _, err) = try TestSupport.run("ldae-zoo", ["verify", "micro@v2"], env: env)
        XCTAssertEqual(code, 1); XCTAssertTrue(err.contains(w), err)
    }

    /// The timm layout without torch: tools/ref_encoder.py (numpy only, timm's VisionTransformer forward) on the
    /// published weights must give the features `ldae-zoo features` writes.
    func testNumpyReferenceEncoderMatchesFeatures() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("no python3 with numpy + h5py") }
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        var cfg = Self.microConfig
        cfg.posEmbed = .learned     // non-symmetric positional embedding: a transposed token order would show
        let (_, dir) = try Self.publishModel(store, config: cfg)
        let te = try Self.shards(tmp + "/test", n: 30, seed: 2)
        let (code, _, err) = try TestSupport.run("ldae-zoo", ["features", "micro", te, "--out", tmp + "/f.npy", "--zoo", store.root])
        XCTAssertEqual(code, 0, err)
        let (maxDiff, meanAbs) = try TestSupport.compareWithRefEncoder(py, entryDir: dir, shards: te, features: tmp + "/f.npy",
                                                                      n: 30, width: 32)
        XCTAssertLessThan(maxDiff, 1e-4, "max |ldae - numpy timm reference|")
        XCTAssertGreaterThan(meanAbs, 1e-2)   // the features are not trivially zero
    }

    /// tools/check_timm.py: a clean "skipped" where torch/timm are missing, else the real strict-load comparison.
    func testCheckTimmSkipsOrMatches() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("no python3 with numpy + h5py") }
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try Self.publishModel(store)
        let te = try Self.shards(tmp + "/test", n: 10, seed: 2)
        let repo = TestSupport.repo
        let out = try TestSupport.runPython(py, """
            import runpy, sys
            sys.argv = sys.argv[1:]
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as e:
                assert not e.code, e.code
            """, args: [repo + "/tools/check_timm.py", "micro", te, "--zoo", store.root, "--ldae-zoo", TestSupport.executable("ldae-zoo")])
        if out.contains("skipped") {
            XCTAssertTrue(out.contains("skipped: torch/timm not installed"), out)
        } else {
            XCTAssertTrue(out.contains("ok: ") && out.contains("matches"), out)
        }
    }
}
