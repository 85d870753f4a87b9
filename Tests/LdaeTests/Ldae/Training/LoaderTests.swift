import Foundation
import XCTest
@testable import Ldae

/// The batch loader: its order, flips, background thread and held-out split.
final class LoaderTests: XCTestCase {
    func testLoaderOrderFlipAndBackgroundThread() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let S = 8, p = 4
        let imgs = trainTestImages(10, size: S, seed: 7)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: [Int32](repeating: -1, count: 10), imageSize: S, patchSize: p, perShard: 4)
        let g = set.geometry
        for budget in [1 << 30, 1] {   // in memory; streaming shard by shard
            let L = try BatchLoader(shards: set, batchSize: 3, seed: 5, flip: true, memoryBudget: budget)
            XCTAssertEqual(L.inMemory, budget > 1)
            XCTAssertEqual(L.stepsPerEpoch, 3)
            XCTAssertEqual(Set(L.order(epoch: 0)), Set(0..<10))
            XCTAssertNotEqual(L.order(epoch: 0), L.order(epoch: 1))
            XCTAssertEqual(L.order(epoch: 2), try BatchLoader(shards: set, batchSize: 3, seed: 5, flip: true, memoryBudget: budget).order(epoch: 2))
            XCTAssertNotEqual(L.order(epoch: 0), try BatchLoader(shards: set, batchSize: 3, seed: 6, flip: true, memoryBudget: budget).order(epoch: 0))
            // the background batches equal synchronous fills, and are the flipped images of the chosen indices
            L.start(from: 2, to: 8)
            var sawFlip = false, sawPlain = false
            for s in 2..<8 {
                let b = try L.next()
                XCTAssertEqual(b.step, s); XCTAssertEqual(b.epoch, s / 3)
                let idx = L.indices(step: s), fl = L.flips(step: s)
                for k in 0..<3 {
                    var img = imgs[idx[k]]
                    if fl[k] {
                        sawFlip = true
                        var f = img
                        for y in 0..<S { for x in 0..<S { for c in 0..<3 { f[(y * S + x) * 3 + c] = img[(y * S + (S - 1 - x)) * 3 + c] } } }
                        img = f
                    } else { sawPlain = true }
                    let want = g.patchify(img).map { PixelScaling.toFloat($0) }
                    for j in 0..<g.valuesPerImage { XCTAssertEqual(b.x0[k * g.valuesPerImage + j], want[j]) }
                }
            }
            XCTAssertTrue(sawFlip && sawPlain)
            XCTAssertThrowsError(try L.next())
            L.stop()
        }
        XCTAssertThrowsError(try BatchLoader(shards: set, batchSize: 11, seed: 0, flip: false)) { XCTAssertTrue("\($0)".contains("fewer than one batch")) }
    }
}

final class LoaderHoldOutTests: XCTestCase {
    func testLoaderNeverServesHeldOutImages() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imgs = trainTestImages(20, size: 8, seed: 2)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: [Int32](repeating: -1, count: 20), imageSize: 8, patchSize: 4, perShard: 6)
        var c = TrainConfig(); c.batchSize = 4; c.valFraction = 0.25; c.valSeed = 9
        let val = Set(HoldOut(fraction: 0.25, seed: 9).split(count: 20).val)
        XCTAssertEqual(val.count, 5)
        for budget in [1 << 30, 1] {
            let L = try BatchLoader(shards: set, config: c, memoryBudget: budget)
            XCTAssertEqual(L.stepsPerEpoch, 3)   // 15 training images
            for e in 0..<3 {
                let o = L.order(epoch: e)
                XCTAssertEqual(o.count, 15)
                XCTAssertTrue(Set(o).isDisjoint(with: val), "epoch \(e), budget \(budget)")
                XCTAssertEqual(Set(o).count, 15)
            }
        }
        c.batchSize = 16
        XCTAssertThrowsError(try BatchLoader(shards: set, config: c)) { XCTAssertTrue("\($0)".contains("5 held out"), "\($0)") }
    }
}
