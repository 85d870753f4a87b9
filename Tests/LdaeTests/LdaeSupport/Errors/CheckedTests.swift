import Foundation
import XCTest
@testable import Ldae

/// Sizes read from files are checked before anything is allocated or read, with overflow reported.
final class CheckedTests: XCTestCase {
    func testCountsAndRangesReportOverflowAndNegatives() {
        XCTAssertEqual(Checked.count([2, 3, 4]), 24)
        XCTAssertEqual(Checked.count([]), 1)
        XCTAssertEqual(Checked.count([5, 0]), 0)
        XCTAssertNil(Checked.count([-1, -4]))
        XCTAssertNil(Checked.count([1 << 32, 1 << 32]))
        XCTAssertNil(Checked.bytes(Int.max / 2, 4))
        XCTAssertEqual(Checked.bytes(3, 4), 12)
        XCTAssertTrue(Checked.inside(start: 2, length: 3, total: 5))
        XCTAssertTrue(Checked.inside(start: 5, length: 0, total: 5))
        XCTAssertFalse(Checked.inside(start: 3, length: 3, total: 5))
        XCTAssertFalse(Checked.inside(start: Int.max - 1, length: 4, total: 5))
        XCTAssertFalse(Checked.inside(start: -1, length: 1, total: 5))
    }
}
