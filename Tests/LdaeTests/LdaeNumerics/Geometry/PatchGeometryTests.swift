import Foundation
import XCTest
@testable import Ldae

final class PatchGeometryTests: XCTestCase {
    func testPatchifyRoundTripAndOrder() {
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        let img = (0..<(8 * 8 * 3)).map { UInt8($0 % 251) }
        let p = g.patchify(img)
        XCTAssertEqual(g.unpatchify(p), img)
        // token 1 is the top-right patch; its first value is pixel (0, 4, channel 0)
        XCTAssertEqual(p[1 * 48], img[(0 * 8 + 4) * 3])
        // token 2 starts at pixel (4, 0); value 5 of a token is pixel (0, 1, channel 2)
        XCTAssertEqual(p[2 * 48], img[(4 * 8 + 0) * 3])
        XCTAssertEqual(p[5], img[(0 * 8 + 1) * 3 + 2])
    }
}
