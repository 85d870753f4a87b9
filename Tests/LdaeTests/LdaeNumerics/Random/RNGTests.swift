import Foundation
import XCTest
@testable import Ldae

final class RNGTests: XCTestCase {
    func testRNGDeterministicAndNormal() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43)
        let xa = (0..<10).map { _ in a.next() }, xb = (0..<10).map { _ in b.next() }, xc = (0..<10).map { _ in c.next() }
        XCTAssertEqual(xa, xb); XCTAssertNotEqual(xa, xc)
        var r = RNG(seed: 1)
        let n = 200_000
        var s = 0.0, s2 = 0.0
        for _ in 0..<n { let v = r.normal(); s += v; s2 += v * v }
        XCTAssertEqual(s / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(s2 / Double(n), 1, accuracy: 0.02)
    }
}
