import XCTest
@testable import Ldae
@testable import LdaeNumerics
@testable import LdaeSupport

final class UtilTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Data(repeating: 0x61, count: 1_000_000)
        XCTAssertEqual(SHA256.hex(long), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

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

    func testArgumentsRejectUnknownAndParseValues() throws {
        let a = try Arguments(["x", "--size", "64", "--flag", "--name=foo", "y"], options: ["size", "name"], flags: ["flag"])
        XCTAssertEqual(a.positionals, ["x", "y"]); XCTAssertEqual(try a.int("size"), 64)
        XCTAssertEqual(a.string("name"), "foo"); XCTAssertTrue(a.flag("flag"))
        XCTAssertThrowsError(try Arguments(["--nope"], options: [], flags: []))
        XCTAssertThrowsError(try Arguments(["--size"], options: ["size"], flags: []))
        XCTAssertThrowsError(try a.choice("name", ["a", "b"], default: "a"))
    }
}
