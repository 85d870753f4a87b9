import Foundation
import XCTest
@testable import Ldae

/// docs/architecture.md is the map of Sources: every source file it names exists, and every folder of Sources is
/// named on it (as `Sources/FOLDER` or `FOLDER/`, its path below Sources).
final class ArchitectureDocTests: XCTestCase {
    func testEveryNamedFileExistsAndEveryFolderIsNamed() throws {
        let doc = try String(contentsOfFile: TestSupport.repo + "/docs/architecture.md", encoding: .utf8)
        let sources = TestSupport.repo + "/Sources"
        var files: Set<String> = [], folders: [String] = []
        let walk = FileManager.default.enumerator(atPath: sources)!
        while let rel = walk.nextObject() as? String {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: sources + "/" + rel, isDirectory: &isDir)
            if isDir.boolValue { folders.append(rel) } else { files.insert((rel as NSString).lastPathComponent) }
        }
        // file names: a word ending in .swift, .c or .h (a `Name+Part.swift` included), outside the Fuzz package's part
        let ourDoc = doc.components(separatedBy: "`Fuzz/` (docs/fuzzing.md)")[0]
        let pattern = try NSRegularExpression(pattern: "[A-Za-z0-9_+-]+\\.(swift|c|h)\\b")
        let named = Set(pattern.matches(in: ourDoc, range: NSRange(ourDoc.startIndex..., in: ourDoc)).map { String(ourDoc[Range($0.range, in: ourDoc)!]) })
        XCTAssertGreaterThan(named.count, 100)
        for f in named.sorted() where !f.hasSuffix("Tests.swift") && f != "llm.c" {   // test files are Tests/'s; llm.c is Karpathy's project
            XCTAssertTrue(files.contains(f), "docs/architecture.md names \(f), which is not in Sources")
        }
        for d in folders.sorted() {
            XCTAssertTrue(doc.contains("`Sources/\(d)`") || doc.contains("`\(d)/`"), "docs/architecture.md does not name Sources/\(d)")
        }
    }
}
