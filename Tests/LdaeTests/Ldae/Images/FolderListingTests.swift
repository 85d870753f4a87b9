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
            let fd = open(d + "/" + n, O_WRONLY | O_CREAT, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0); close(fd)
        }
        let f = try ImageFolder(root: d)
        XCTAssertFalse(f.labeled)
        XCTAssertEqual(f.files.map { $0.path }, names.sorted(by: ImageFolder.byteLess))
    }

    static func png(_ dst: String) throws { try PrepPipelineTests.copy(TestSupport.fixtures + "/png/rgb8.png", dst) }
    static func link(_ at: String, _ to: String) throws {
        try FileManager.default.createSymbolicLink(atPath: at, withDestinationPath: to)
    }

    func testSymlinkToAnAncestorOrAnotherClassIsListedOnceAndReported() throws {
        let d = TestSupport.tempDir() + "/in"
        try Self.png(d + "/a/1.png")
        try Self.png(d + "/b/2.png")
        try Self.png(d + "/b/sub/3.png")
        try Self.link(d + "/b/loop", "..")             // the root: every class again, under label b
        try Self.link(d + "/b/sub/up", "../..")         // the root again, deeper
        try Self.link(d + "/a/tob", "../b")             // another class folder: b's images under label a
        try Self.link(d + "/a/again", "../a")           // its own class folder
        let f = try ImageFolder(root: d)
        XCTAssertEqual(f.classNames, ["a", "b"])
        XCTAssertEqual(f.files.map { $0.path }, ["a/1.png", "b/2.png", "b/sub/3.png"])
        XCTAssertEqual(f.files.map { $0.label }, [0, 1, 1])
        XCTAssertEqual(f.skipped.map { $0.path }, ["a/again", "a/tob", "b/loop", "b/sub/up"])
        XCTAssertTrue(f.skipped.allSatisfy { $0.reason.category == "symlink" && $0.reason.detail.contains("already listed") }, "\(f.skipped)")
    }

    func testSelfDanglingAndSpecialEntriesAreSkippedWithAReasonInTheIndex() throws {
        let base = TestSupport.tempDir()
        let d = base + "/in"
        try Self.png(d + "/a/1.png")
        try Self.png(d + "/a/2.png")
        try Self.link(d + "/a/self.png", "self.png")
        try Self.link(d + "/a/gone.png", "/nonexistent/gone.png")
        try Self.link(d + "/a/ok.png", "1.png")         // a link to a file is a candidate like any file
        XCTAssertEqual(mkfifo(d + "/a/pipe.png", 0o644), 0)   // opening it would block forever
        var o = PrepPipelineTests.options(d, base + "/out")
        o.maxSkipFraction = 0.5
        let r = try Prep.run(o)
        XCTAssertEqual(r.index.total, 3)
        let skipped = Dictionary(uniqueKeysWithValues: r.index.skipped.map { ($0.path, $0.reason) })
        XCTAssertEqual(Set(skipped.keys), ["a/self.png", "a/gone.png", "a/pipe.png"], "\(skipped)")
        XCTAssertTrue(skipped["a/self.png"]!.hasPrefix("symlink: symlink loop"), skipped["a/self.png"]!)
        XCTAssertTrue(skipped["a/gone.png"]!.contains("dangling symlink") && skipped["a/gone.png"]!.contains("/nonexistent/gone.png"), skipped["a/gone.png"]!)
        XCTAssertTrue(skipped["a/pipe.png"]!.hasPrefix("not_a_file"), skipped["a/pipe.png"]!)
        XCTAssertEqual(r.index.skippedCounts, ["symlink": 2, "not_a_file": 1])
        XCTAssertEqual(r.index.filesRead, 6)
        // a folder through --part records them once (part 0), so a merge lists them once
        for i in 0..<2 {
            var p = PrepPipelineTests.options(d, base + "/part\(i)")
            p.part = (i, 2); p.maxSkipFraction = 1   // part 0 holds 1 of the 3 files and all 3 listing skips
            try Prep.run(p)
        }
        let m = try PrepMerge.run(parts: [base + "/part0", base + "/part1"], out: base + "/merged")
        XCTAssertEqual(m.skipped.map { $0.path }.sorted(), ["a/gone.png", "a/pipe.png", "a/self.png"])
    }

    func testNonUTF8FileNamesAreReadByTheirBytes() throws {
        let base = TestSupport.tempDir()
        try Self.png(base + "/in/a/ok.png")
        let raw: [UInt8] = Array((base + "/in/a/").utf8) + [0x66, 0xE9, 0x74, 0xE9, 0xFF, 0x2E, 0x70, 0x6E, 0x67]   // "f\xe9t\xe9\xff.png" (Latin-1)
        let data = try Data(contentsOf: URL(fileURLWithPath: base + "/in/a/ok.png"))
        let fd = ImageFolder.withCPath(raw) { open($0, O_WRONLY | O_CREAT, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress!, data.count) }
        close(fd)
        let r = try Prep.run(PrepPipelineTests.options(base + "/in", base + "/out"))
        XCTAssertEqual(r.index.skipped.map { $0.reason }, [])
        XCTAssertEqual(r.index.total, 2)
        let c = try PrepPipelineTests.contents(base + "/out")
        XCTAssertEqual(c.paths, ["a/f\\xe9t\\xe9\\xff.png", "a/ok.png"])
        XCTAssertEqual(Array(c.patches[0..<(64 * 48)]), Array(c.patches[(64 * 48)...]))
    }

    func testAFlatFolderWithOneSubfolderIsRefusedSayingWhatWasFound() throws {
        let base = TestSupport.tempDir()
        for i in 0..<5 { try Self.png(base + "/in/img\(i).png") }
        try Self.png(base + "/in/thumbs/t.png")
        var o = PrepPipelineTests.options(base + "/in", base + "/out")
        o.maxSkipFraction = 0.01
        XCTAssertThrowsError(try Prep.run(o)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("5 of 6 entries cannot be used, above --max-skip-fraction 0.01"), m)
            XCTAssertTrue(m.contains("img0.png: outside_class_folder: file at the top level of a class-folder layout (1 class folder(s): 'thumbs')"), m)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/out"))
        o.maxSkipFraction = 1
        let r = try Prep.run(o)
        XCTAssertEqual(r.index.total, 1)
        XCTAssertEqual(r.index.skippedCounts, ["outside_class_folder": 5])
        XCTAssertEqual(r.index.filesRead, 6)
    }
}
