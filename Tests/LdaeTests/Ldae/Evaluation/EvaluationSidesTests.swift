import Foundation
import XCTest
@testable import Ldae

final class EvaluationSidesTests: XCTestCase {
    func testValidationSidesComeFromTheHeldOutImages() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let imgs = trainTestImages(40, size: 8, seed: 3)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: (0..<40).map { Int32($0 % 2) }, imageSize: 8, patchSize: 4, perShard: 16)
        var o = Evaluation.Options(train: [dir], test: [])
        o.val = HoldOut(fraction: 0.25, seed: 1)
        o.maxTrain = 20
        let s = Evaluation.sides(set, set, o)
        let val = HoldOut(fraction: 0.25, seed: 1).split(count: 40).val
        XCTAssertEqual(s.testIdx, val)
        XCTAssertEqual(s.trainIdx.count, 20)
        XCTAssertTrue(Set(s.trainIdx).isDisjoint(with: Set(val)))
    }
}
