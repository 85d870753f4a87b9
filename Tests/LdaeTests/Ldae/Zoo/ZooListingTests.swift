import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// list / show / verify / evals.jsonl on entries published with `ZooStore.publish` from hand-made staging folders.
final class ZooListingTests: XCTestCase {
    static func manifest(_ name: String, steps: Int = 100, loss: Double = 0.5) -> Manifest {
        var mc = ModelPreset.micro.config
        mc.imageSize = 8; mc.patchSize = 4
        var tc = TrainConfig(); tc.latentDim = 8
        return Manifest(name: name, model: mc, tokenizer: .init(kind: .pca, latentDim: 8, patchSize: 4, pcaFile: "pca.h5", pcaSHA256: nil),
                        training: tc, data: .init(indexSHA256: "ab12", images: 321, sources: ["/d/index.json"], classNames: ["a", "b"]),
                        seed: 0, steps: steps, epochs: 1, finalLoss: loss, parameterCount: 12345, encoderParameterCount: 6000,
                        trainSeconds: 12, weightsDtype: "F32")
    }

    @discardableResult
    static func publish(_ store: ZooStore, _ name: String, steps: Int = 100, payload: String = "w") throws -> (Int, String) {
        let st = try store.makeStaging(name)
        try Data(payload.utf8).write(to: URL(fileURLWithPath: st + "/weights.safetensors"))
        try Data("log line\n".utf8).write(to: URL(fileURLWithPath: st + "/train.log"))
        return try store.publish(staging: st, manifest: manifest(name, steps: steps))
    }

    static func record(_ model: String, top1: Double) -> EvalRecord {
        let lp = LinearProbe.Result(top1: top1, top5: 0.9, l2: 1e-4, heldOutTop1: [0.5], trainTop1: 0.8, iterations: 10, seconds: 1)
        let kn = KNNClassifier.Result(top1: top1 / 2, top5: 0.8, k: 20, temperature: 0.07, seconds: 1)
        let m = EvalRecord.EncoderMetrics(features: "encoder", featureDim: 32, linearProbe: lp, knn: kn, featureSeconds: 2)
        return EvalRecord(model: model, seconds: 3, train: .init(indexSHA256: "tr", sources: [], images: 10, used: 10),
                          test: .init(indexSHA256: "te", sources: [], images: 5, used: 5), classNames: ["a", "b"], metrics: m,
                          baselines: ["pixels": m], denoising: .init(images: 4, psnrPCACeiling: 30, levels: [.init(t: 100, sigma: 0.1, gamma: 1, psnrNoisy: 20, psnrModel: 25)], figure: nil),
                          settings: .init(featureT: 10, batch: 8, maxTrain: nil, maxTest: nil, seed: 0, probe: .init(), knn: .init(), denoiseT: [100], denoiseImages: 4))
    }

    func testListShowsEveryVersionAndMarksADamagedOne() throws {
        let store = ZooStore(root: TestSupport.tempDir() + "/zoo")
        try Self.publish(store, "alpha", steps: 10)
        let (_, p2) = try Self.publish(store, "alpha", steps: 20)
        try Self.publish(store, "beta")
        // Flip one byte of v2's weights.
        let w = p2 + "/weights.safetensors"
        var d = try Data(contentsOf: URL(fileURLWithPath: w)); d[0] ^= 0xFF
        try d.write(to: URL(fileURLWithPath: w))
        let e = ZooListing.entries(store)
        XCTAssertEqual(e.map { "\($0.name)@\($0.version)" }, ["alpha@v1", "alpha@v2", "beta@v1"])
        XCTAssertNil(e[0].damaged); XCTAssertNil(e[2].damaged)
        XCTAssertNotNil(e[1].damaged)
        XCTAssertTrue(e[1].damaged!.contains("weights.safetensors") && e[1].damaged!.contains("sha256"))
        XCTAssertEqual(e[1].steps, 20)   // still described from its manifest
        XCTAssertEqual(e[0].architecture, "vit 32x2 / dec 32x1")
        XCTAssertEqual(e[0].latentDim, 8)
        let text = ZooListing.render(e)
        XCTAssertTrue(text.contains("DAMAGED"))
        XCTAssertEqual(text.components(separatedBy: "DAMAGED").count - 1, 1)
        XCTAssertTrue(text.contains("alpha@v2: "))
        // Loading refuses it, naming the file.
        XCTAssertThrowsError(try store.load("alpha@v2")) { XCTAssertTrue("\($0)".contains(w)) }
        XCTAssertNoThrow(try store.load("alpha@v1"))
        // A missing file is damage too; an unreadable manifest is marked, not fatal.
        try FileManager.default.removeItem(atPath: store.path("beta", 1) + "/train.log")
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: store.path("alpha", 1) + "/manifest.json"))
        let e2 = ZooListing.entries(store)
        XCTAssertTrue(e2[2].damaged!.contains("missing"))
        XCTAssertNotNil(e2[0].damaged); XCTAssertNil(e2[0].steps)
    }

    func testResolveNewestAndExplicitVersion() throws {
        let store = ZooStore(root: TestSupport.tempDir() + "/zoo")
        try Self.publish(store, "m", steps: 1); try Self.publish(store, "m", steps: 2); try Self.publish(store, "m", steps: 3)
        XCTAssertEqual(try store.load("m").manifest.steps, 3)
        XCTAssertEqual(try store.load("m@2").manifest.steps, 2)
        XCTAssertEqual(try store.load("m@v1").manifest.steps, 1)
        XCTAssertEqual(try store.load("m@v1").manifest.version, "v1")
        XCTAssertThrowsError(try store.load("m@v9")) { XCTAssertTrue("\($0)".contains("v1, v2, v3")) }
        XCTAssertThrowsError(try store.load("nope")) { XCTAssertTrue("\($0)".contains("known: m")) }
    }

    func testEvalsAreAppendedNotRewrittenAndShownInHistory() throws {
        let store = ZooStore(root: TestSupport.tempDir() + "/zoo")
        let (_, dir) = try Self.publish(store, "m")
        try store.appendEval(Self.record("m@v1", top1: 0.41), dir: dir)
        let first = try Data(contentsOf: URL(fileURLWithPath: dir + "/evals.jsonl"))
        try store.appendEval(Self.record("m@v1", top1: 0.52), dir: dir)
        let both = try Data(contentsOf: URL(fileURLWithPath: dir + "/evals.jsonl"))
        XCTAssertEqual(both.prefix(first.count), first)          // the first line is untouched
        XCTAssertEqual(both.split(separator: 0x0A).count, 2)
        // evals.jsonl is not part of the verified files: the entry stays intact.
        XCTAssertNoThrow(try store.load("m"))
        let (recs, bad) = EvalRecord.readAll(dir + "/evals.jsonl")
        XCTAssertEqual(recs.map { $0.metrics.linearProbe.top1 }, [0.41, 0.52]); XCTAssertEqual(bad, 0)
        XCTAssertEqual(ZooListing.entries(store)[0].bestLinearProbeTop1, 0.52)
        XCTAssertTrue(ZooListing.render(ZooListing.entries(store)).contains("52.0 / 26.0"))
        // A torn last line is counted, not fatal.
        let h = FileHandle(forWritingAtPath: dir + "/evals.jsonl")!; h.seekToEndOfFile(); h.write(Data("{\"mod".utf8)); try h.close()
        XCTAssertEqual(EvalRecord.readAll(dir + "/evals.jsonl").unreadable, 1)
        let (m, _) = try store.load("m")
        let show = ZooListing.show(m, dir: dir, verified: nil)
        XCTAssertTrue(show.contains("evaluations (2, 1 unreadable lines)"))
        XCTAssertTrue(show.contains("41.00") || show.contains("41.0"))
        XCTAssertTrue(show.contains("vit 32x2 / dec 32x1"))
        XCTAssertTrue(show.contains("weights.safetensors"))
    }

    func testNamesThatAreNotOneZooFolderAreRefusedOnRead() throws {
        let base = TestSupport.tempDir()
        let store = ZooStore(root: base + "/zoo")
        try Self.publish(store, "alpha")
        // An entry-shaped folder outside the zoo, reachable by a relative name.
        try Self.publish(ZooStore(root: base + "/elsewhere"), "x")
        for ref in ["../elsewhere/x", "../elsewhere/x@v1", "alpha/../../elsewhere/x", ".staging", ""] {
            XCTAssertThrowsError(try store.resolveRef(ref), ref) { e in
                XCTAssertTrue("\(e)".contains("invalid model name"), "\(ref): \(e)")
            }
        }
        XCTAssertEqual(try store.resolveRef("alpha@v1").version, 1)
        let (rc, _, err) = try TestSupport.run("ldae-zoo", ["show", "../elsewhere/x", "--zoo", base + "/zoo"])
        XCTAssertEqual(rc, 1, err)
        XCTAssertTrue(err.contains("invalid model name '../elsewhere/x'"), err)
    }

    func testAFileTheManifestDoesNotListFailsVerification() throws {
        let store = ZooStore(root: TestSupport.tempDir() + "/zoo")
        let (_, dir) = try Self.publish(store, "alpha")
        XCTAssertNoThrow(try store.load("alpha"))
        // evals.jsonl (append-only), hidden files and subfolders (figures/) are not part of the hashed set.
        try store.appendEval(["a": 1], dir: dir)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/.DS_Store"))
        try FileManager.default.createDirectory(atPath: dir + "/figures", withIntermediateDirectories: true)
        XCTAssertNoThrow(try store.load("alpha"))
        // A file added after publishing (or dropped from `files` by an edit of the manifest) is not verified.
        try Data("extra".utf8).write(to: URL(fileURLWithPath: dir + "/weights2.safetensors"))
        XCTAssertThrowsError(try store.load("alpha")) { e in
            XCTAssertEqual("\(e)", dir + "/weights2.safetensors: damaged zoo entry: file not listed in the manifest")
        }
        unlink(dir + "/weights2.safetensors")
        var m = try JSON.read(Manifest.self, path: dir + "/manifest.json")
        m.files["train.log"] = nil
        try JSON.write(m, to: dir + "/manifest.json")
        XCTAssertThrowsError(try store.load("alpha")) { e in XCTAssertTrue("\(e)".contains("train.log: damaged zoo entry: file not listed"), "\(e)") }
    }
}
