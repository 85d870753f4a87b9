import XCTest
@testable import Ldae

/// Tiny synthetic training data: smooth colour-gradient images (8x8, patch 4: 4 tokens of 48), shards, and a
/// PCA basis fitted to their patches (float64 covariance + dsyevd, written as pca.h5).
struct TrainFixture {
    let dir: String
    let shards: String
    let pca: String
    let images: Int

    init(images n: Int = 24, size: Int = 8, patch: Int = 4, perShard: Int = 10) throws {
        dir = TestSupport.tempDir("trainfixture")
        shards = dir + "/shards"
        images = n
        var rng = RNG(seed: 42)
        var imgs: [[UInt8]] = []
        for _ in 0..<n {
            let base = (0..<3).map { _ in rng.uniform() * 255 }, gx = rng.uniform() * 20 - 10, gy = rng.uniform() * 20 - 10
            var img = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size { for x in 0..<size { for c in 0..<3 {
                img[(y * size + x) * 3 + c] = UInt8(max(0, min(255, base[c] + gx * Double(x) + gy * Double(y) + rng.normal() * 4)))
            } } }
            imgs.append(img)
        }
        let set = try TestSupport.makeShards(dir: shards, images: imgs, labels: [Int32](repeating: -1, count: n), imageSize: size, patchSize: patch, perShard: perShard)
        let g = set.geometry, D = g.tokenDim
        var rows: [Float] = []
        for i in 0..<set.shards.count { rows += try set.read(shard: i).patches.map { PixelScaling.toFloat($0) } }
        let R = rows.count / D
        var mean = [Double](repeating: 0, count: D)
        for r in 0..<R { for j in 0..<D { mean[j] += Double(rows[r * D + j]) / Double(R) } }
        var cov = [Double](repeating: 0, count: D * D)
        for r in 0..<R { for i in 0..<D { let a = Double(rows[r * D + i]) - mean[i]; for j in 0..<D { cov[i * D + j] += a * (Double(rows[r * D + j]) - mean[j]) / Double(R) } } }
        let (vals, vecs) = try LAPACK.symmetricEigen(cov, n: D)
        var comps = [Float](repeating: 0, count: D * D)
        for r in 0..<D { for j in 0..<D { comps[r * D + j] = Float(vecs[(D - 1 - r) * D + j]) } }
        pca = dir + "/pca.h5"
        try PCABasis(mean: mean.map { Float($0) }, components: comps, eigenvalues: vals.reversed().map { Float(max(0, $0)) },
                     patchSize: patch, channels: 3, sampleCount: R, indexSHA256: set.indexSHA256).save(pca)
    }

    func options(_ name: String = "t", out: String? = nil, configure: (inout TrainConfig) -> Void = { _ in }) -> TrainOptions {
        var tc = TrainConfig()
        tc.batchSize = 4; tc.epochs = 2; tc.baseLR = 2e-2; tc.warmupEpochs = 0.5; tc.checkpointEvery = 0; tc.seed = 3
        configure(&tc)
        var mc = ModelPreset.micro.config
        mc.imageSize = 8; mc.patchSize = 4
        var o = TrainOptions(data: [shards], pcaPath: pca, model: mc, train: tc, name: name, outDir: out ?? dir + "/run-" + name)
        o.publish = false; o.quiet = true; o.zoo = dir + "/zoo"
        return o
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

final class TrainLoopTests: XCTestCase {
    override func setUp() { TrainSignals.reset() }

    func testShortTrainingLowersLoss() throws {
        let f = try TrainFixture(); defer { f.remove() }
        var o = f.options { $0.epochs = 8; $0.noiseLevels = .single; $0.singleSigma = 0.2 }   // 48 steps
        o.steps = nil
        let r = try Trainer(o).run()
        XCTAssertEqual(r.stop, .finished)
        XCTAssertEqual(r.steps, 48)
        let first = r.losses.prefix(6).reduce(0, +) / 6, last = r.losses.suffix(6).reduce(0, +) / 6
        XCTAssertLessThan(last, 0.5 * first, "loss \(first) -> \(last)")
        // the log has one line per step with the documented fields
        let lines = try String(contentsOfFile: o.outDir + "/train_log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 48)
        let l0 = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(Set(l0.keys), ["step", "epoch", "loss", "lr", "grad_norm", "images_per_s", "seconds", "cpu_seconds"])
        // CPU seconds count up from the first step
        let cpu = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["cpu_seconds"] as! Double }
        XCTAssertGreaterThan(cpu.last!, 0)
        XCTAssertEqual(cpu, cpu.sorted())
        XCTAssertTrue(FileUtil.exists(o.outDir + "/loss_curve.png"))
    }

    func testASecondTrainerOnTheSameRunFolderFailsAtOnce() throws {
        let f = try TrainFixture(); defer { f.remove() }
        let o = f.options("lock")
        let first = try Trainer(o)
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("ldae-train"), "\($0)") }
        _ = first.totalSteps
        // a trainer on another folder is not blocked
        XCTAssertNoThrow(try Trainer(f.options("other")))
    }

    func testResumeGivesIdenticalLosses() throws {
        let f = try TrainFixture(); defer { f.remove() }
        let cfg: (inout TrainConfig) -> Void = { $0.epochs = 2; $0.ema = 0.9; $0.weightDecay = 0.05 }
        var a = f.options("a", configure: cfg)
        a.memoryBudget = 1   // stream shard by shard (the harder path: shard cache refilled after the resume)
        let ra = try Trainer(a).run()
        XCTAssertEqual(ra.steps, 12)
        var b = f.options("b", configure: cfg)
        b.memoryBudget = 1
        b.stopAfter = 5
        let rb1 = try Trainer(b).run()
        XCTAssertEqual(rb1.stop, .stopAfter); XCTAssertEqual(rb1.steps, 5)
        b.stopAfter = nil; b.resume = true
        let tb = try Trainer(b)
        XCTAssertEqual(tb.step, 5)
        let rb2 = try tb.run()
        XCTAssertEqual(rb2.stop, .finished)
        XCTAssertEqual(rb1.losses + rb2.losses, ra.losses)     // exactly, not approximately
        let ca = try Checkpoint.load(a.outDir + "/" + Checkpoint.fileName, slots: tb.slots, parameterCount: tb.model.parameterCount)
        let cb = try Checkpoint.load(b.outDir + "/" + Checkpoint.fileName, slots: tb.slots, parameterCount: tb.model.parameterCount)
        XCTAssertEqual(ca.params, cb.params); XCTAssertEqual(ca.ema!, cb.ema!); XCTAssertEqual(ca.adamV, cb.adamV)
        XCTAssertNotEqual(ca.ema!, ca.params)
        // the resumed log is the whole run: 12 lines, steps 0..11, same losses
        let lines = try String(contentsOfFile: b.outDir + "/train_log.jsonl", encoding: .utf8).split(separator: "\n")
        let steps = try lines.map { try JSON.decode(TrainLogLine.self, from: Data($0.utf8), file: "log").step }
        XCTAssertEqual(steps, Array(0..<12))
    }

    func testNonFiniteLossStopsNamingTheStepAndKeepsCheckpoint() throws {
        let f = try TrainFixture(); defer { f.remove() }
        let o = f.options { $0.baseLR = 1e36; $0.gradClip = 0; $0.warmupEpochs = 0; $0.checkpointEvery = 1; $0.beta2 = 0.999 }
        let t = try Trainer(o)
        XCTAssertThrowsError(try t.run()) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("non-finite") && s.contains("at step "), s)
            XCTAssertTrue(s.contains("last good checkpoint"), s)
        }
        let ck = try Checkpoint.load(o.outDir + "/" + Checkpoint.fileName, slots: t.slots, parameterCount: t.model.parameterCount)
        XCTAssertGreaterThanOrEqual(ck.step, 1)
        XCTAssertTrue(ck.params.allSatisfy { $0.isFinite })
        XCTAssertEqual(ck.step, t.step)
    }

    func testErrorsBeforeTraining() throws {
        let f = try TrainFixture(); defer { f.remove() }
        // a PCA basis for patch 2 against shards with patch 4
        let other = try trainTestBasis(patchSize: 2, seed: 1)
        try other.save(f.dir + "/p2.h5")
        var o = f.options(); o.pcaPath = f.dir + "/p2.h5"
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("p2.h5") && "\($0)".contains("patch_size"), "\($0)") }
        // resume without a checkpoint
        o = f.options("r"); o.resume = true
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("no checkpoint"), "\($0)") }
        // impossible shapes
        o = f.options(); o.model.encoderHeads = 3
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("divisible"), "\($0)") }
        // a corrupt checkpoint
        o = f.options("c"); o.resume = true
        try FileUtil.makeDirectory(o.outDir)
        try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: o.outDir + "/" + Checkpoint.fileName))
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains(Checkpoint.fileName), "\($0)") }
        // an existing checkpoint is not overwritten by a fresh run; a changed config cannot resume
        o = f.options("d"); o.stopAfter = 1
        _ = try Trainer(o).run()
        o.stopAfter = nil
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
        o.resume = true; o.train.baseLR = 1
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("training config"), "\($0)") }
    }

    func testPublishedEntryVerifiesAndParsesInPython() throws {
        let f = try TrainFixture(); defer { f.remove() }
        var o = f.options("pub") { $0.epochs = 1; $0.ema = 0.5 }
        o.publish = true
        let t = try Trainer(o)
        let r = try t.runPublishing()
        let pub = try XCTUnwrap(r.published)
        XCTAssertEqual(pub.version, 1)
        let store = ZooStore(root: f.dir + "/zoo")
        let (m, dir) = try store.load("pub")
        XCTAssertEqual(m.steps, 6); XCTAssertEqual(m.finalLoss, r.finalLoss); XCTAssertEqual(m.seed, 3)
        XCTAssertEqual(m.parameterCount, t.model.parameterCount)
        XCTAssertEqual(m.data.indexSHA256, t.shards.indexSHA256)
        XCTAssertEqual(m.tokenizer.pcaSHA256, try SHA256.hex(file: f.pca))
        XCTAssertEqual(Set(m.files.keys), ["weights.safetensors", "pca.h5", "train_log.jsonl", "loss_curve.png", "config.json"])
        // published weights are the EMA, in timm layout
        let (w, _, _) = try Safetensors.read(dir + "/weights.safetensors")
        let emaModel = try LDAEModel(config: o.model, seed: 0)
        try emaModel.load(w)
        let ck = try Checkpoint.load(o.outDir + "/" + Checkpoint.fileName, slots: t.slots, parameterCount: t.model.parameterCount)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: emaModel.params, count: emaModel.parameterCount)), ck.ema!)
        // a second publish is v2; v1 is untouched
        var o2 = o; o2.outDir = f.dir + "/run-pub2"
        XCTAssertEqual(try Trainer(o2).runPublishing().published?.version, 2)
        XCTAssertEqual(try store.load("pub@v1").manifest.files, m.files)
        // resuming the finished run again trains nothing and does not publish a duplicate v3
        var o3 = o2; o3.resume = true
        let r3 = try Trainer(o3).runPublishing()
        XCTAssertEqual(r3.losses.count, 0)
        XCTAssertEqual(r3.published?.version, 2)
        XCTAssertEqual(store.versions("pub"), [1, 2])
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3 with h5py/numpy not available") }
        let script = """
        import json, struct, sys, numpy as np
        def load(p):
            b = open(p, 'rb').read()
            n = struct.unpack('<Q', b[:8])[0]
            h = json.loads(b[8:8 + n])
            meta = h.pop('__metadata__', {})
            out = {}
            for k, v in h.items():
                s, e = v['data_offsets']
                assert v['dtype'] == 'F32'
                out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype='<f4').reshape(v['shape'])
            return out, meta
        w, _ = load(sys.argv[1])
        c, meta = load(sys.argv[2])
        assert meta['format'] == 'ldae-checkpoint', meta
        assert w['patch_embed.proj.weight'].ndim == 4
        assert all(np.isfinite(a).all() for a in w.values())
        print(len(w), meta['step'], w['patch_embed.proj.weight'].shape, float(np.abs(c['params.pos_embed']).sum()) > 0)
        """
        let out = try TestSupport.runPython(py, script, args: [dir + "/weights.safetensors", o.outDir + "/" + Checkpoint.fileName])
        XCTAssertTrue(out.hasPrefix("\(w.count) 6 (32, 3, 4, 4)"), out)
    }
}
