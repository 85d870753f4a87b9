import Foundation
import XCTest
@testable import Ldae

final class PCAResumeTests: XCTestCase {
    func testInterruptedRunResumesToTheSameBasisBitForBit() throws {
        let dir = TestSupport.tempDir()
        var rng = RNG(seed: 31)
        let images = (0..<40).map { _ in (0..<(8 * 8 * 3)).map { _ in UInt8(rng.below(256)) } }
        let set = try TestSupport.makeShards(dir: dir + "/s", images: images, labels: [Int32](repeating: -1, count: 40),
                                             imageSize: 8, patchSize: 4, perShard: 11)
        for maxPatches in [nil, 70] as [Int?] {
            let whole = try PCAStream.accumulate(set, maxPatches: maxPatches, seed: 5, chunkImages: 3)
            let path = dir + "/pca.h5.resume.h5"
            var ck = PCACheckpointing(path: path, interval: 1e9, resume: false)
            ck.stopAfterChunks = 6   // 6 chunks: stops inside the second shard
            XCTAssertThrowsError(try PCAStream.accumulate(set, maxPatches: maxPatches, seed: 5, checkpointing: ck, chunkImages: 3))
            let st = try PCAResumeState.load(path)
            XCTAssertEqual(st.imagesDone, 17); XCTAssertEqual(st.shard, 1); XCTAssertEqual(st.row, 6)   // 3+3+3+2, then 3+3
            // Resume with another chunking: the exact byte path makes the result identical.
            let resumed = try PCAStream.accumulate(set, maxPatches: maxPatches, seed: 5,
                                                   checkpointing: PCACheckpointing(path: path, interval: 1e9, resume: true), chunkImages: 4)
            XCTAssertEqual(resumed.count, whole.count)
            XCTAssertEqual(resumed.covariance(), whole.covariance())
            XCTAssertEqual(resumed.mean, whole.mean)
            // A state from other settings is refused with the file named.
            XCTAssertThrowsError(try PCAStream.accumulate(set, maxPatches: 50, seed: 5,
                                                          checkpointing: PCACheckpointing(path: path, interval: 1e9, resume: true))) { e in
                XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("other data or settings"), "\(e)")
            }
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
