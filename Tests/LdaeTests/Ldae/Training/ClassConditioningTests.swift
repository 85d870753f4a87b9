import Foundation
import XCTest
@testable import Ldae

final class ClassConditioningTests: XCTestCase {
    override func setUp() { TrainSignals.reset() }

    func labelledFixture() throws -> (TrainFixture, String) {
        let f = try TrainFixture()
        let set = try ShardSet([f.shards])
        var imgs: [[UInt8]] = []
        for i in 0..<set.shards.count {
            let p = try set.read(shard: i).patches
            let per = set.geometry.valuesPerImage
            for k in 0..<(p.count / per) { imgs.append(set.geometry.unpatchify(Array(p[(k * per)..<((k + 1) * per)]))) }
        }
        let dir = f.dir + "/labelled"
        try TestSupport.makeShards(dir: dir, images: imgs, labels: (0..<imgs.count).map { Int32($0 % 3) }, imageSize: 8, patchSize: 4,
                                   classNames: ["a", "b", "c"], perShard: 10)
        return (f, dir)
    }

    func testClassConditionedRunRecordsLabelsAndResumes() throws {
        let (f, shards) = try labelledFixture(); defer { f.remove() }
        func opts(_ n: String) -> TrainOptions {
            var o = f.options(n) { $0.classDropout = 0.25; $0.valFraction = 0.25 }
            o.data = [shards]; o.model.numClasses = 3; o.model.timeCond = .adaln; o.steps = 8
            return o
        }
        var whole = opts("cc"); whole.publish = true
        let w = try Trainer(whole).runPublishing()
        var a = opts("r"); a.stopAfter = 3
        let first = try Trainer(a).run().losses
        var b = opts("r"); b.resume = true
        let rest = try Trainer(b).run().losses
        XCTAssertEqual(first + rest, w.losses)
        let zm = try ZooModel(store: ZooStore(root: f.dir + "/zoo"), ref: "cc")
        XCTAssertEqual(zm.manifest.model.numClasses, 3)
        let card = try String(contentsOfFile: zm.dir + "/README.md", encoding: .utf8)
        XCTAssertTrue(card.contains("labels used in pretraining") && card.contains("class conditioning"), card)
        XCTAssertThrowsError(try ZooExport.export(store: ZooStore(root: f.dir + "/zoo"), ref: "cc", out: f.dir + "/exp"))
        // an older manifest without num_classes still decodes (no class conditioning)
        let m = try JSON.decode(ModelConfig.self, from: Data(#"{"image_size":8,"patch_size":4,"channels":3,"encoder_width":8,"encoder_depth":1,"encoder_heads":1,"decoder_width":8,"decoder_depth":1,"decoder_heads":1,"mlp_ratio":2,"pos_embed":"sincos","time_cond":"none"}"#.utf8), file: "old")
        XCTAssertNil(m.numClasses)
    }

    func testLabelsComeFromTheTrainingImagesWithDropout() throws {
        let (f, shards) = try labelledFixture(); defer { f.remove() }
        let set = try ShardSet([shards])
        var c = TrainConfig(); c.classDropout = 0.5; c.seed = 4
        let labels = try ClassLabels(shards: set, trainIndices: Array(0..<set.count), classes: 3, config: c)
        let idx = Array(0..<set.count)
        let drawn = (0..<40).flatMap { labels.batch(idx, step: $0) }
        let dropped = drawn.filter { $0 == 3 }.count
        XCTAssertEqual(Double(dropped) / Double(drawn.count), 0.5, accuracy: 0.06)
        for (i, l) in labels.batch(idx, step: 7).enumerated() where l != 3 { XCTAssertEqual(l, Int32(i % 3)) }
        XCTAssertEqual(labels.batch(idx, step: 7), labels.batch(idx, step: 7), "a function of (seed, step)")
        // unlabelled shards, or a class count that differs, are refused
        XCTAssertThrowsError(try ClassLabels(shards: try ShardSet([f.shards]), trainIndices: [0], classes: 3, config: c)) {
            XCTAssertTrue("\($0)".contains("labelled shards"), "\($0)")
        }
        XCTAssertThrowsError(try ClassLabels(shards: set, trainIndices: [0], classes: 4, config: c)) {
            XCTAssertTrue("\($0)".contains("num_classes 4") && "\($0)".contains("3 classes"), "\($0)")
        }
    }
}
