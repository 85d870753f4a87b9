import Foundation
import XCTest
@testable import Ldae

/// Listing input folders (`ImageFolder`): big directories, symlinks, odd names, mixed layouts.
final class FolderListingTests: XCTestCase {
    /// A folder of a few thousand entries fills readdir's buffer, so some entries end within 256 bytes of
    /// its end: copying the whole fixed-size `d_name` there reads past the heap block (found by
    /// `tools/test --sanitize`; without ASan the test checks the names).
    func testListingAFullDirectoryReadsEachNameOnlyUpToItsNUL() throws {
        let d = TestSupport.tempDir() + "/flat"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        var names: [String] = []
        for i in 0..<3000 {
            let n = "img-\(i)" + String(repeating: "x", count: i % 23) + ".png"
            names.append(n)
            XCTAssertTrue(FileManager.default.createFile(atPath: d + "/" + n, contents: Data([0x89])))
        }
        let f = try ImageFolder(root: d)
        XCTAssertFalse(f.labeled)
        XCTAssertEqual(f.files.map { $0.path }, names.sorted(by: ImageFolder.byteLess))
    }
}
