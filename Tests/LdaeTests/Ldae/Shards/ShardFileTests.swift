import Foundation
import XCTest
@testable import Ldae

/// Shards written and read back, by ldae and by h5py.
final class ShardFileTests: XCTestCase {
    func testH5pyReadsShard() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3-h5py not installed") }
        let dir = TestSupport.tempDir()
        let img = (0..<(8 * 8 * 3)).map { UInt8($0 % 256) }
        try TestSupport.makeShards(dir: dir, images: [img], labels: [-1], imageSize: 8, patchSize: 4)
        let out = try TestSupport.runPython(py, """
        import sys, h5py
        f = h5py.File(sys.argv[1] + '/shard-00000.h5', 'r')
        p = f['patches']
        print(f.attrs['format'], int(f.attrs['format_version']), p.dtype, p.shape, int(p[0, 1, 0]), int(f['labels'][0]))
        """, args: [dir])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ldae-shard 1 uint8 (1, 4, 48) 12 -1")
    }

    func testShardWriteReadRoundTrip() throws {
        let dir = TestSupport.tempDir()
        var rng = RNG(seed: 3)
        let images = (0..<5).map { _ in (0..<(8 * 8 * 3)).map { _ in UInt8(rng.below(256)) } }
        let set = try TestSupport.makeShards(dir: dir, images: images, labels: [0, 1, 0, 1, 1], imageSize: 8, patchSize: 4,
                                             classNames: ["a", "b"], perShard: 2)
        XCTAssertEqual(set.count, 5); XCTAssertEqual(set.shards.count, 3)
        XCTAssertEqual(set.locate(4).shard, 2); XCTAssertEqual(set.locate(2).row, 0)
        let (p, l) = try set.read(shard: 1)
        XCTAssertEqual(l, [0, 1])
        XCTAssertEqual(p, set.geometry.patchify(images[2]) + set.geometry.patchify(images[3]))
        XCTAssertEqual(try set.allLabels(), [0, 1, 0, 1, 1])
        let f = try set.open(shard: 0)
        XCTAssertEqual(try f.readStrings(ShardFormat.classNames), ["a", "b"])
        XCTAssertEqual(try f.readStrings(ShardFormat.paths), ["img0.png", "img1.png"])
    }
}
