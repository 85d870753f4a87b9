import Foundation
import XCTest
@testable import Ldae

final class ArgumentsTests: XCTestCase {
    func testArgumentsRejectUnknownAndParseValues() throws {
        let a = try Arguments(["x", "--size", "64", "--flag", "--name=foo", "y"], options: ["size", "name"], flags: ["flag"])
        XCTAssertEqual(a.positionals, ["x", "y"]); XCTAssertEqual(try a.int("size"), 64)
        XCTAssertEqual(a.string("name"), "foo"); XCTAssertTrue(a.flag("flag"))
        XCTAssertThrowsError(try Arguments(["--nope"], options: [], flags: []))
        XCTAssertThrowsError(try Arguments(["--size"], options: ["size"], flags: []))
        XCTAssertThrowsError(try a.choice("name", default: TimeCond.none))   // "foo" is no case
    }
}
