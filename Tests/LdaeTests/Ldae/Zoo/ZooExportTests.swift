import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// Model cards, the timm-style export, recommended features and validation-split evaluation on a micro model.
final class ZooExportTests: XCTestCase {
    func testExportWritesEncoderOnlyTimmFolderAndRefusesToOverwrite() throws {
        let tmp = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let store = ZooStore(root: tmp + "/zoo")
        let (model, _) = try ZooEvalTests.publishModel(store)
        let out = tmp + "/export"
        let r = try ZooExport.export(store: store, ref: "micro", out: out)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), Set(r.files))
        let (t, _, _) = try Safetensors.read(out + "/model.safetensors")
        let enc = model.tensors.filter(\.encoder)
        XCTAssertEqual(Set(t.keys), Set(enc.map(\.name)))
        XCTAssertFalse(t.keys.contains { $0.hasPrefix("decoder") })
        XCTAssertEqual(t["patch_embed.proj.weight"]!.shape, [32, 3, 4, 4])
        // the exported tensors are the model's own (timm layout)
        let all = Dictionary(uniqueKeysWithValues: model.exportTensors().map { ($0.name, $0) })
        for (k, v) in t { XCTAssertEqual(v.values, all[k]!.values, k) }
        let cfg = try JSON.read(ZooExport.TimmConfig.self, path: out + "/config.json")
        XCTAssertEqual(cfg.modelArgs.embedDim, 32); XCTAssertEqual(cfg.modelArgs.depth, 2); XCTAssertEqual(cfg.modelArgs.patchSize, 4)
        XCTAssertFalse(cfg.modelArgs.classToken); XCTAssertEqual(cfg.numClasses, 0)
        XCTAssertEqual(cfg.pretrainedCfg.inputSize, [3, 8, 8])
        XCTAssertThrowsError(try ZooExport.export(store: store, ref: "micro", out: out)) { XCTAssertTrue("\($0)".contains("already exists"), "\($0)") }
        XCTAssertNoThrow(try ZooExport.export(store: store, ref: "micro", out: out, overwrite: true))
        // a model that needs the noise level in every block is not a plain timm ViT
        var ada = ZooEvalTests.microConfig; ada.timeCond = .adaln
        try ZooEvalTests.publishModel(store, name: "ada", config: ada)
        XCTAssertThrowsError(try ZooExport.export(store: store, ref: "ada", out: tmp + "/ada")) { XCTAssertTrue("\($0)".contains("adaln"), "\($0)") }
        XCTAssertFalse(FileUtil.exists(tmp + "/ada"))
    }

    func testCardFollowsEvalsAndRecommendedFeaturesWhileTheEntryStillVerifies() throws {
        let tmp = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let store = ZooStore(root: tmp + "/zoo")
        let (_, dir) = try ZooEvalTests.publishModel(store)
        let tr = try ZooEvalTests.shards(tmp + "/train", n: 80, seed: 1)
        try store.setFeatures("micro@v1", .init(layers: [.block(1), .block(2)], pooling: .grid2, chosenBy: "val table"))
        var o = Evaluation.Options(train: [tr], test: [])
        o.val = HoldOut(fraction: 0.25, seed: 0)
        o.batch = 16; o.probe.maxIterations = 20; o.knn.k = 5; o.denoiseImages = 0; o.allLayers = true; o.knnStandardize = true
        let r = try store.evaluate("micro", options: o)
        XCTAssertEqual(r.split, .val); XCTAssertEqual(r.test.used, 20); XCTAssertEqual(r.train.used, 60)
        XCTAssertEqual(r.layers, [.block(1), .block(2)]); XCTAssertEqual(r.pooling, .grid2)
        XCTAssertEqual(r.metrics.featureDim, 2 * 32 * 4)            // two layers, four quadrants
        XCTAssertEqual(r.perLayer?.map(\.features), ["embed", "1", "2", "final", "dec1"])
        let card = String(decoding: try FileUtil.read(dir + "/" + ModelCard.fileName), as: UTF8.self)
        XCTAssertTrue(card.contains("**Validation split**"), card)
        XCTAssertTrue(card.contains(String(format: "%.1f", 100 * r.metrics.linearProbe.top1)), card)
        XCTAssertTrue(card.contains("grid2 pooling of the tokens at layers 1, 2 (256 values)"), card)
        XCTAssertNoThrow(try store.load("micro@v1", verify: true))
        // the recorded features are what the recommended encoder gives, and what a reader of the record can rebuild
        let back = EvalRecord.readAll(dir + "/" + ZooStore.evalsFile).records.last!
        XCTAssertEqual(back.layers, [.block(1), .block(2)]); XCTAssertEqual(back.split, .val); XCTAssertEqual(back.valFraction, 0.25)
        XCTAssertEqual(back.settings.flipTTA, false)
        // a recommendation with the mirror average: eval uses it unless told otherwise, and says so in the record
        try store.setFeatures("micro@v1", .init(layers: [.block(2)], pooling: .mean, flipTTA: true))
        let r2 = try store.evaluate("micro", options: o)
        XCTAssertEqual(r2.settings.flipTTA, true); XCTAssertEqual(r2.layers, [.block(2)])
        var off = o; off.flipTTA = false
        XCTAssertEqual(try store.evaluate("micro", options: off).settings.flipTTA, false)
        XCTAssertTrue(String(decoding: try FileUtil.read(dir + "/" + ModelCard.fileName), as: UTF8.self).contains("averaged with the mirror image's"))
    }

    /// Every field of the records users read back survives a JSON round trip (snake_case keys: acronyms need
    /// explicit coding keys, or they silently decode as nil).
    func testFeatureSpecAndEvalSettingsRoundTripThroughJSON() throws {
        let spec = Manifest.FeatureSpec(layers: [.block(3), .decoderBlock(1)], pooling: .grid4, flipTTA: true, chosenBy: "val")
        let back = try JSON.decode(Manifest.FeatureSpec.self, from: try JSON.encode(spec), file: "spec")
        XCTAssertEqual(back, spec)
        XCTAssertTrue(String(decoding: try JSON.encode(spec), as: UTF8.self).contains("\"flip_tta\""))
        var st = EvalRecord.Settings(featureT: 10, batch: 8, maxTrain: 5, maxTest: nil, seed: 1, probe: .init(), knn: .init(),
                                     denoiseT: [100], denoiseImages: 3)
        st.knnStandardize = true; st.flipTTA = true
        let st2 = try JSON.decode(EvalRecord.Settings.self, from: try JSON.encode(st), file: "settings")
        XCTAssertEqual(st2.flipTTA, true); XCTAssertEqual(st2.knnStandardize, true); XCTAssertEqual(st2.maxTrain, 5)
    }

    func testGridPoolingAveragesEachQuadrant() {
        // grid 3: quadrants of 1x1, 1x2, 2x1 and 2x2 tokens
        let G = 3, c = 2
        let x: [Float] = (0..<(G * G * c)).map { Float($0) }
        var out = [Float](repeating: 0, count: 4 * c)
        FeaturePooling.grid2.pool(out: &out, x: x, b: 1, grid: G, c: c)
        func tok(_ r: Int, _ col: Int, _ i: Int) -> Float { x[(r * G + col) * c + i] }
        for i in 0..<c {
            XCTAssertEqual(out[0 * c + i], tok(0, 0, i))
            XCTAssertEqual(out[1 * c + i], (tok(0, 1, i) + tok(0, 2, i)) / 2)
            XCTAssertEqual(out[2 * c + i], (tok(1, 0, i) + tok(2, 0, i)) / 2)
            XCTAssertEqual(out[3 * c + i], (tok(1, 1, i) + tok(1, 2, i) + tok(2, 1, i) + tok(2, 2, i)) / 4)
        }
        // grid4 on an 8 x 8 grid: 16 cells of 2 x 2 tokens, row-major
        let G8 = 8
        let x8: [Float] = (0..<(G8 * G8)).map { _ in Float.random(in: -1...1) }
        var o16 = [Float](repeating: 0, count: 16)
        FeaturePooling.grid4.pool(out: &o16, x: x8, b: 1, grid: G8, c: 1)
        for cy in 0..<4 { for cx in 0..<4 {
            let r = 2 * cy, q = 2 * cx
            let want = (x8[r * 8 + q] + x8[r * 8 + q + 1] + x8[(r + 1) * 8 + q] + x8[(r + 1) * 8 + q + 1]) / 4
            XCTAssertEqual(o16[cy * 4 + cx], want, accuracy: 1e-6)
        } }
    }
}
