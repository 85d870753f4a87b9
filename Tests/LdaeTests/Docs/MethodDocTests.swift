import Foundation
import XCTest
@testable import Ldae

/// docs/method.md's option table is the knobs' (`TrainOptions.methodTable`): a knob added, renamed or redescribed
/// without the docs fails here, with the table to paste.
final class MethodDocTests: XCTestCase {
    func testTheOptionTableIsTheKnobs() throws {
        let text = try String(contentsOfFile: TestSupport.repo + "/docs/method.md", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("| option | values (default first)") }, "docs/method.md has no option table")
        let table = lines[start...].prefix { $0.hasPrefix("|") }.joined(separator: "\n")
        XCTAssertEqual(table, TrainOptions.methodTable, "docs/method.md's option table differs from the knobs; the table they give:\n\(TrainOptions.methodTable)")
    }
}
