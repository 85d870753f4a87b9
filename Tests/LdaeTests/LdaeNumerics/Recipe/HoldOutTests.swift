import Foundation
import XCTest
@testable import Ldae

final class HoldOutTests: XCTestCase {
    func testHoldOutIsDeterministicDisjointAndSized() {
        let h = HoldOut(fraction: 0.1, seed: 3)
        let (tr, va) = h.split(count: 1003)
        XCTAssertEqual(va.count, 100)
        XCTAssertEqual(tr.count + va.count, 1003)
        XCTAssertTrue(Set(tr).isDisjoint(with: Set(va)))
        XCTAssertEqual(Set(tr + va), Set(0..<1003))
        XCTAssertEqual(h.split(count: 1003).val, va)
        XCTAssertNotEqual(HoldOut(fraction: 0.1, seed: 4).split(count: 1003).val, va)
        XCTAssertEqual(va, va.sorted())
        XCTAssertEqual(HoldOut(fraction: 0, seed: 0).split(count: 10).train, Array(0..<10))
        XCTAssertEqual(HoldOut(fraction: 0.01, seed: 0).split(count: 10).val.count, 1)   // at least one image
    }
}
