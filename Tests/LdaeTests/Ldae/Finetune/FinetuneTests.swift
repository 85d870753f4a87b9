import Foundation
import XCTest
@testable import Ldae

/// Fine-tuning as a library: resume bit-exact, the published classifier entry, bad input as one clear error each, a
/// damaged classifier entry refused, and the numpy reference (tools/ref_encoder.py) against the logits.
final class FinetuneTests: XCTestCase {
    /// A temporary zoo with a micro parent (random weights, `ZooEvalTests.publishModel`) and labelled 8x8 shards.
    struct Fixture {
        let dir: String, store: ZooStore, train: String, test: String
        init(classes: Int = 4) throws {
            dir = TestSupport.tempDir()
            store = ZooStore(root: dir + "/zoo")
            try ZooEvalTests.publishModel(store, name: "parent")
            train = try ZooEvalTests.shards(dir + "/train", n: 96, classes: classes, seed: 1)
            test = try ZooEvalTests.shards(dir + "/test", n: 40, classes: classes, seed: 2)
        }
        /// A short recipe that exercises every random stream: drop path, pad crops, flips, a validation split.
        func options(_ name: String, steps: Int = 8, configure: (inout FinetuneConfig) -> Void = { _ in }) -> FinetuneOptions {
            var r = FinetuneConfig()
            r.batchSize = 8; r.baseLR = 5e-3; r.warmupEpochs = 0.5; r.dropPath = 0.2; r.valFraction = 0.25; r.evalEvery = 3
            r.checkpointEvery = 4
            configure(&r)
            var o = FinetuneOptions(parent: "parent", data: [train], recipe: r, name: name, outDir: dir + "/run-" + name)
            o.zoo = store.root; o.steps = steps; o.quiet = true; o.plan = ExecutionPlan(threads: 2)
            return o
        }
    }

    func testResumeReproducesTheUninterruptedRunBitForBit() throws {
        let f = try Fixture()
        try resumeMatches(f)   // its finetuners (and their run-folder locks) are gone after it
        // a changed recipe cannot resume that checkpoint
        var oc = f.options("b", steps: 10) { $0.labelSmoothing = 0 }
        oc.resume = true
        XCTAssertThrowsError(try Finetuner(oc)) { XCTAssertTrue("\($0)".contains("cannot resume") && "\($0)".contains("recipe"), "\($0)") }
    }

    func resumeMatches(_ f: Fixture) throws {
        let a = try Finetuner(f.options("a", steps: 10))
        let ra = try a.run()
        XCTAssertEqual(ra.stop, .finished); XCTAssertEqual(ra.losses.count, 10)
        XCTAssertLessThan(ra.losses.suffix(3).reduce(0, +), ra.losses.prefix(3).reduce(0, +))   // it learns
        var ob = f.options("b", steps: 10)
        ob.stopAfter = 5
        let rb1 = try Finetuner(ob).run()
        XCTAssertEqual(rb1.stop, .stopAfter); XCTAssertEqual(rb1.steps, 5)
        ob.stopAfter = nil; ob.resume = true
        let b = try Finetuner(ob)
        XCTAssertEqual(b.step, 5)
        let rb2 = try b.run()
        XCTAssertEqual(rb1.losses + rb2.losses, ra.losses)      // exactly, not approximately
        let ca = try FinetuneCheckpoint.load(a.checkpointPath, classifier: a.classifier)
        let cb = try FinetuneCheckpoint.load(b.checkpointPath, classifier: b.classifier)
        XCTAssertEqual(ca.encoder, cb.encoder); XCTAssertEqual(ca.head, cb.head)
        XCTAssertEqual(ca.encoderV, cb.encoderV); XCTAssertEqual(ca.headM, cb.headM)
        XCTAssertEqual(a.curve.map(\.top1), b.curve.map(\.top1)); XCTAssertEqual(a.curve.map(\.step), [0, 3, 6, 9, 10])
        XCTAssertEqual(a.curve.map(\.loss), b.curve.map(\.loss))
        // the resumed run's files hold the whole run
        let steps = Finetuner.readLines(TrainLogLine.self, b.logPath).map(\.step)
        XCTAssertEqual(steps, Array(0..<10))
        XCTAssertEqual(Finetuner.readLines(ValPoint.self, b.curvePath).map(\.step), [0, 3, 6, 9, 10])
        // both published (a: v1, b: v2); the same weights
        XCTAssertEqual(try Safetensors.read(f.store.path("a", 1) + "/weights.safetensors").0["head.weight"]!.values,
                       try Safetensors.read(f.store.path("b", 1) + "/weights.safetensors").0["head.weight"]!.values)
    }

    func testPublishedClassifierRecordsItsParentLabelsRecipeAndCurve() throws {
        let f = try Fixture()
        let o = f.options("cls", steps: 6) { $0.head = .readout }
        try f.store.setFeatures("parent@v1", .init(layers: [.block(1)], pooling: .grid2, chosenBy: "test"))
        let r = try Finetuner(o).run()
        let (m, dir) = try f.store.load("cls@v1", verify: true)
        XCTAssertEqual(r.published?.path, dir)
        let c = try XCTUnwrap(m.classifier)
        XCTAssertEqual(c.parent, "parent@v1"); XCTAssertEqual(c.initEntry, "parent@v1"); XCTAssertEqual(c.initFrom, .pretrained)
        XCTAssertEqual(c.classNames, ["class0", "class1", "class2", "class3"])
        XCTAssertEqual(c.head.layers, [.block(1)]); XCTAssertEqual(c.head.pooling, .grid2); XCTAssertEqual(c.head.features, 4 * 32)
        XCTAssertEqual(c.recipe.valFraction, 0.25); XCTAssertEqual(c.valCurve.map(\.step), [0, 3, 6])
        XCTAssertGreaterThan(c.cpuSeconds, 0); XCTAssertEqual(m.trainCpuSeconds, c.cpuSeconds)
        XCTAssertEqual(c.preprocess.imageSize, 8)
        XCTAssertEqual(c.parentWeightsSHA256, try f.store.load("parent@v1").manifest.files[ZooStore.weightsFile])
        XCTAssertEqual(Set(m.files.keys), ["weights.safetensors", "config.json", "train_log.jsonl", "loss_curve.png", "val_curve.jsonl", "val_curve.png"])
        let card = String(decoding: try FileUtil.read(dir + "/" + ModelCard.fileName), as: UTF8.self)
        XCTAssertTrue(card.contains("## Validation curve") && card.contains("0 class0, 1 class1"), card)
        // the entry's weights: the encoder in timm names and the head; the manifest round-trips its classifier section
        let (t, _, _) = try Safetensors.read(dir + "/weights.safetensors")
        XCTAssertEqual(t["head.weight"]!.shape, [4, 128]); XCTAssertFalse(t.keys.contains { $0.hasPrefix("decoder") })
        XCTAssertEqual(try JSON.decode(Manifest.self, from: try JSON.encode(m), file: "m").classifier, c)
        // features of a classifier entry are its fine-tuned encoder's (ZooModel loads the encoder alone)
        XCTAssertNoThrow(try ZooModel(store: f.store, ref: "cls"))
        // random init: the same architecture, another start; the record says so
        _ = try Finetuner(f.options("scratch", steps: 2) { $0.initFrom = .random }).run()
        let s = try XCTUnwrap(try f.store.load("scratch").manifest.classifier)
        XCTAssertEqual(s.initFrom, .random); XCTAssertNil(s.initEntry)
    }

    /// Each bad input is one error naming the file and the reason, before any training.
    func testBadInputIsOneClearErrorEach() throws {
        let f = try Fixture()
        func fails(_ o: FinetuneOptions, _ words: [String], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Finetuner(o), file: file, line: line) { e in
                let s = "\(e)"
                XCTAssertFalse(s.contains("\n"), s, file: file, line: line)
                for w in words { XCTAssertTrue(s.contains(w), "'\(w)' not in: \(s)", file: file, line: line) }
            }
        }
        // labels missing from the shards
        let unl = try ZooEvalTests.shards(f.dir + "/unlabeled", n: 40, seed: 3, labeled: false)
        var o = f.options("x"); o.data = [unl]
        fails(o, ["needs labelled shards", unl])
        var imgs = ZooEvalTests.images(40, classes: 4, seed: 4)
        imgs.1[17] = -1
        try TestSupport.makeShards(dir: f.dir + "/holes", images: imgs.0, labels: imgs.1, imageSize: 8, patchSize: 4,
                                   classNames: ["a", "b", "c", "d"], perShard: 25)
        o = f.options("x"); o.data = [f.dir + "/holes"]; o.recipe.valFraction = 0
        fails(o, ["image 17", "label -1", "shard-00000.h5"])
        // an entry whose architecture does not match --init
        var wide = ZooEvalTests.microConfig; wide.encoderWidth = 48
        try ZooEvalTests.publishModel(f.store, name: "wide", config: wide)
        o = f.options("x"); o.initRef = "wide"
        fails(o, ["--init wide@v1 has another architecture", "width 48", "manifest.json"])
        // an encoder that is not a plain ViT
        var ada = ZooEvalTests.microConfig; ada.timeCond = .adaln
        try ZooEvalTests.publishModel(f.store, name: "ada", config: ada)
        o = f.options("x"); o.parent = "ada"
        fails(o, ["not a plain ViT encoder"])
        // a head size that does not match: start from a classifier of 4 classes on shards with 3
        _ = try Finetuner(f.options("four", steps: 1)).run()
        let three = try ZooEvalTests.shards(f.dir + "/three", n: 48, classes: 3, seed: 5)
        o = f.options("x"); o.parent = "four"; o.data = [three]
        fails(o, ["four@v1's head has 4 classes", "the training shards have 3", "--new-head"])
        o.newHead = true
        XCTAssertNoThrow(try Finetuner(o))
        // a readout head on decoder features
        try f.store.setFeatures("parent@v1", .init(layers: [.decoderBlock(1)]))
        o = f.options("y") { $0.head = .readout }
        fails(o, ["decoder layer dec1", "--head pooled"])
        // eval / predict of a class list that differs from the classifier's
        let other = try ZooEvalTests.shards(f.dir + "/other", n: 20, seed: 6, names: ["class0", "class1", "dog", "cat"])
        var eo = ClassifierEval.Options(); eo.test = [other]
        XCTAssertThrowsError(try ClassifierEval.run(store: f.store, ref: "four", options: eo)) {
            XCTAssertTrue("\($0)".contains("differ from four@v1's labels") && "\($0)".contains("dog"), "\($0)")
        }
        // eval of an encoder entry as a classifier, predict of one: refused
        eo.test = [f.test]
        XCTAssertThrowsError(try ClassifierEval.run(store: f.store, ref: "parent", options: eo)) { XCTAssertTrue("\($0)".contains("is not a classifier"), "\($0)") }
    }

    /// A damaged classifier entry is refused by everything that reads it (and `verify`).
    func testDamagedClassifierEntryIsRefused() throws {
        let f = try Fixture()
        _ = try Finetuner(f.options("cls", steps: 2)).run()
        let w = f.store.path("cls", 1) + "/weights.safetensors"
        var d = try Data(contentsOf: URL(fileURLWithPath: w)); d[d.count - 7] ^= 0x10; try d.write(to: URL(fileURLWithPath: w))
        for attempt in [{ _ = try ZooClassifier(store: f.store, ref: "cls", command: "predict") },
                        { var o = ClassifierEval.Options(); o.test = [f.test]; _ = try ClassifierEval.run(store: f.store, ref: "cls", options: o) },
                        { _ = try ZooExport.export(store: f.store, ref: "cls", out: f.dir + "/exp") },
                        { var o = f.options("again"); o.parent = "cls"; _ = try Finetuner(o) }] {
            XCTAssertThrowsError(try attempt()) { XCTAssertTrue("\($0)".contains("damaged zoo entry: sha256 mismatch") && "\($0)".contains(w), "\($0)") }
        }
        // a manifest whose head does not fit its weights (edited, hashes intact: the manifest is not hashed)
        d[d.count - 7] ^= 0x10; try d.write(to: URL(fileURLWithPath: w))
        let mp = f.store.path("cls", 1) + "/manifest.json"
        var m = try JSON.read(Manifest.self, path: mp)
        m.classifier!.head.classes = 5; m.classifier!.classNames.append("extra"); m.classifier!.head.features = 32
        try JSON.write(m, to: mp)
        XCTAssertThrowsError(try ZooClassifier(store: f.store, ref: "cls", command: "predict")) {
            XCTAssertTrue("\($0)".contains("head.weight") && "\($0)".contains("5 classes"), "\($0)")
        }
    }

    /// The classifier's logits are timm's VisionTransformer(num_classes=C) forward: tools/ref_encoder.py --logits
    /// (numpy, no ldae code) on the entry gives `predict`'s .npy; and a readout head's.
    func testNumpyReferenceGivesThePredictedLogits() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("no python3 with numpy + h5py") }
        let f = try Fixture()
        for (name, head) in [("pooled", FinetuneHead.pooled), ("readout", .readout)] {
            if head == .readout { try f.store.setFeatures("parent@v1", .init(layers: [.block(1), .embed], pooling: .grid2)) }
            _ = try Finetuner(f.options(name, steps: 4) { $0.head = head; $0.baseLR = 0.05 }).run()
            let zc = try ZooClassifier(store: f.store, ref: name, command: "predict")
            let out = f.dir + "/\(name).npy"
            _ = try Predict.run(zc, try PredictInputs.resolve([f.test], list: nil), out: out, format: .npy, batch: 16, workers: 2)
            let ref = out + ".ref.npy"
            _ = try TestSupport.runPython(py, """
                import runpy, sys
                sys.argv = ["ref_encoder.py", sys.argv[1], sys.argv[2], "--out", sys.argv[3], "--logits"]
                runpy.run_path("\(TestSupport.repo)/tools/ref_encoder.py", run_name="__main__")
                """, args: [zc.dir, f.test, ref])
            let diff = try TestSupport.runPython(py, """
                import numpy as np, sys
                a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
                assert a.shape == b.shape == (40, 4), (a.shape, b.shape)
                print(float(np.abs(a - b).max()), float(np.abs(b).max()))
                """, args: [out, ref]).split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            XCTAssertLessThan(diff[0], 1e-4 * max(1, diff[1]), "\(name): max |ldae - numpy reference|")
            XCTAssertGreaterThan(diff[1], 1e-3, "\(name): logits are trivially small")
        }
    }
}
