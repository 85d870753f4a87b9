import Foundation
import XCTest
@testable import Ldae

/// The `ldae-prep` executable: one-line errors, exit codes, summary, resume through the CLI.
final class PrepCLITests: XCTestCase {
    func oneLine(_ s: String) -> Bool { s.split(separator: "\n").count == 1 }

    func testMissingFolderIsAOneLineError() throws {
        let out = TestSupport.tempDir() + "/out"
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", "/nonexistent/photos", "--out", out])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(oneLine(err), err)
        XCTAssertTrue(err.hasPrefix("ldae-prep: error: /nonexistent/photos: no such folder"), err)
    }

    func testUnknownClassWithClassNamesIsAnError() throws {
        let base = TestSupport.tempDir()
        try PrepPipelineTests.copy(PrepPipelineTests.fx("cifar10/test/cat"), base + "/in/kitten")
        try "cat\ndog\n".write(toFile: base + "/classes.txt", atomically: true, encoding: .utf8)
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", base + "/in", "--out", base + "/out", "--class-names", base + "/classes.txt"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(oneLine(err), err)
        XCTAssertTrue(err.contains(base + "/in/kitten") && err.contains("not in the --class-names list"), err)
    }

    func testUsageErrorsExitTwo() throws {
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", "x", "--out", "y", "--sise", "32"])
        XCTAssertEqual(rc, 2)
        XCTAssertTrue(err.contains("unknown option --sise"), err)
        let (rc2, _, err2) = try TestSupport.run("ldae-prep", ["images", "x", "--out", "y", "--part", "3/3"])
        XCTAssertEqual(rc2, 2)
        XCTAssertTrue(err2.contains("0 <= i < n"), err2)
        let (rc3, out3, _) = try TestSupport.run("ldae-prep", ["--help"])
        XCTAssertEqual(rc3, 0)
        XCTAssertTrue(out3.contains("ldae-prep images DIR --out OUT"))
    }

    func testSummaryKillAndResumeThroughTheCLI() throws {
        let base = TestSupport.tempDir()
        let input = PrepPipelineTests.fx("cifar10/train")
        let args = ["images", input, "--out", base + "/out", "--shard-size", "64", "--workers", "2"]
        let (rc, _, err) = try TestSupport.run("ldae-prep", args + ["--stop-after-shards", "1"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(err.contains("stopped after 1 shard"), err)
        XCTAssertEqual(Prep.existingShards(base + "/out"), 1)
        let (rc2, _, err2) = try TestSupport.run("ldae-prep", args)
        XCTAssertEqual(rc2, 1)
        XCTAssertTrue(err2.contains("--resume"), err2)
        let (rc3, out3, err3) = try TestSupport.run("ldae-prep", args + ["--resume"])
        XCTAssertEqual(rc3, 0, err3)
        XCTAssertTrue(out3.contains("resumed after 1 complete shard"), out3)
        XCTAssertTrue(out3.contains("written   200"), out3)
        XCTAssertTrue(out3.contains("skipped   0"), out3)
        XCTAssertTrue(err3.contains("images/s"), "progress line with a rate on stderr: \(err3)")
        XCTAssertEqual(try ShardSet(base + "/out").count, 200)
        // merge of one complete folder (not a part) works too, and an existing output is refused
        let (rc4, out4, _) = try TestSupport.run("ldae-prep", ["merge", base + "/out", "--out", base + "/merged"])
        XCTAssertEqual(rc4, 0)
        XCTAssertTrue(out4.contains("200 images"), out4)
        let (rc5, _, err5) = try TestSupport.run("ldae-prep", ["merge", base + "/out", "--out", base + "/merged"])
        XCTAssertEqual(rc5, 1)
        XCTAssertTrue(oneLine(err5) && err5.contains("already holds shards"), err5)
    }

    func testTooManySkippedFailsWithAPointerToTheReasons() throws {
        let base = TestSupport.tempDir()
        try PrepPipelineTests.copy(PrepPipelineTests.fx("cifar10/test/cat"), base + "/in/cat")
        try PrepPipelineTests.copy(PrepPipelineTests.fx("bad/garbage.jpg"), base + "/in/cat/zz.jpg")
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", base + "/in", "--out", base + "/out"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(oneLine(err), err)
        XCTAssertTrue(err.contains("--max-skip-fraction") && err.contains("skipped.json"), err)
        let (rc2, out2, _) = try TestSupport.run("ldae-prep", ["images", base + "/in", "--out", base + "/out2", "--max-skip-fraction", "0.1"])
        XCTAssertEqual(rc2, 0)
        XCTAssertTrue(out2.contains("not_an_image 1"), out2)
        let (rc3, _, err3) = try TestSupport.run("ldae-prep", ["images", base + "/in", "--out", base + "/out3", "--on-error", "fail"])
        XCTAssertEqual(rc3, 1)
        XCTAssertTrue(err3.hasPrefix("ldae-prep: error: " + base + "/in/cat/zz.jpg: not_an_image"), err3)
    }
}
