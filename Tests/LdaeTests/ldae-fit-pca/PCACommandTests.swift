import Foundation
import XCTest
@testable import Ldae

/// The `ldae-fit-pca` executable (built by `swift build --build-tests`).
final class PCACommandTests: XCTestCase {
    static func shards(_ dir: String, count: Int = 20, imageSize: Int = 8, patchSize: Int = 4, seed: UInt64 = 1) throws -> ShardSet {
        var rng = RNG(seed: seed)
        let images = (0..<count).map { _ in (0..<(imageSize * imageSize * 3)).map { _ in UInt8(rng.below(256)) } }
        return try TestSupport.makeShards(dir: dir, images: images, labels: [Int32](repeating: -1, count: count),
                                          imageSize: imageSize, patchSize: patchSize, perShard: 8)
    }

    func testFitWritesBasisTableAndFigures() throws {
        let dir = TestSupport.tempDir()
        let set = try Self.shards(dir + "/shards")
        let out = dir + "/pca.h5"
        let (rc, stdout, stderr) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out])
        XCTAssertEqual(rc, 0, stderr)
        let b = try PCABasis.load(out)
        XCTAssertEqual(b.dim, 48); XCTAssertEqual(b.sampleCount, 20 * 4); XCTAssertEqual(b.indexSHA256, set.indexSHA256)
        // Same basis as the library call.
        let lib = try PCAStream.fit(set)
        XCTAssertEqual(b.components, lib.components)
        // Table rows at d = 1, 2, 4, ..., 32, 48, ending at 1.
        for d in [1, 2, 4, 8, 16, 32, 48] {
            XCTAssertTrue(stdout.contains(String(format: "%5d  ", d)), "no row for d = \(d):\n\(stdout)")
        }
        XCTAssertTrue(stdout.contains(String(format: "%8.4f", b.cumulativeExplained(4))))
        XCTAssertTrue(stdout.contains("1.0000"))
        for f in ["pca-eigenpatches.png", "pca-reconstructions.png"] {
            let img = try PCAFigureTests.decodePNG(dir + "/" + f)
            XCTAssertGreaterThan(img.width, 8, f)
        }

        // --max-patches / --seed: exactly that many, reproducible; --no-figures writes none.
        let out2 = dir + "/sub.h5"
        let (rc2, _, e2) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out2, "--max-patches", "30", "--seed", "7", "--no-figures"])
        XCTAssertEqual(rc2, 0, e2)
        XCTAssertEqual(try PCABasis.load(out2).sampleCount, 30)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/sub-eigenpatches.png"))
        let sub = try PCAStream.fit(set, maxPatches: 30, seed: 7)
        XCTAssertEqual(try PCABasis.load(out2).mean, sub.mean)

        // --resume: a saved state from an interrupted run is continued, then removed; the basis is the same.
        let out3 = dir + "/res.h5"
        var ck = PCACheckpointing(path: PCAResumeState.path(for: out3), interval: 1e9, resume: false)
        ck.stopAfterChunks = 1
        XCTAssertThrowsError(try PCAStream.accumulate(set, checkpointing: ck, chunkImages: 5))
        let (rc3, _, e3) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out3, "--resume", "--no-figures"])
        XCTAssertEqual(rc3, 0, e3)
        XCTAssertTrue(e3.contains("resuming from"), e3)
        XCTAssertEqual(try PCABasis.load(out3).components, b.components)
        XCTAssertFalse(FileManager.default.fileExists(atPath: PCAResumeState.path(for: out3)))
        // A state from other settings is refused.
        XCTAssertThrowsError(try PCAStream.accumulate(set, maxPatches: 20, checkpointing: ck, chunkImages: 5))
        let (rc4, _, e4) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out3, "--resume"])
        XCTAssertEqual(rc4, 1); XCTAssertTrue(e4.contains("other data or settings"), e4)
        XCTAssertEqual(e4.split(separator: "\n").filter { $0.contains("error") }.count, 1, e4)
    }

    func testBadInputGivesOneLineErrors() throws {
        let dir = TestSupport.tempDir()
        _ = try Self.shards(dir + "/p4", patchSize: 4)
        _ = try Self.shards(dir + "/p2", patchSize: 2)
        // Different patch sizes.
        var (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir + "/p4", dir + "/p2", "--out", dir + "/a.h5"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(err.hasPrefix("ldae-fit-pca: error: ") && err.contains("patch_size") && err.contains("p2"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        // An empty shard set.
        XCTAssertThrowsError(try TestSupport.makeShards(dir: dir + "/empty", images: [], labels: [], imageSize: 8, patchSize: 4))
        (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir + "/empty", "--out", dir + "/b.h5"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(err.contains("empty") && err.contains("index.json"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        // Not a shard folder.
        (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir, "--out", dir + "/c.h5"])
        XCTAssertEqual(rc, 1); XCTAssertTrue(err.contains("index.json"), err)
        // Usage errors: no --out, typo.
        (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir + "/p4"])
        XCTAssertEqual(rc, 2); XCTAssertTrue(err.contains("--out"), err)
        (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir + "/p4", "--out", dir + "/d.h5", "--max-patch", "5"])
        XCTAssertEqual(rc, 2); XCTAssertTrue(err.contains("--max-patch"), err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.h5"))
        (rc, _, _) = try TestSupport.run("ldae-fit-pca", ["--help"])
        XCTAssertEqual(rc, 0)
    }

    func testResumeOnAFinishedFitDoesNothingAndTheSameFolderTwiceIsRefused() throws {
        let dir = TestSupport.tempDir()
        _ = try Self.shards(dir + "/shards")
        let out = dir + "/pca.h5"
        let (rc, _, e) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out, "--no-figures"])
        XCTAssertEqual(rc, 0, e)
        let before = try SHA256.hex(file: out)
        let mtime = try FileManager.default.attributesOfItem(atPath: out)[.modificationDate] as? Date
        let (rc2, stdout2, e2) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out, "--no-figures", "--resume"])
        XCTAssertEqual(rc2, 0, e2)
        XCTAssertTrue(e2.contains("already complete"), e2)
        XCTAssertFalse(e2.contains("fit-pca:") && e2.contains("images/s"), "no fitting progress expected: \(e2)")
        XCTAssertTrue(stdout2.contains("cumulative explained"), stdout2)
        XCTAssertEqual(try SHA256.hex(file: out), before)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: out)[.modificationDate] as? Date, mtime)
        // other settings: fitted again
        let (rc3, _, e3) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", out, "--no-figures", "--resume", "--max-patches", "30"])
        XCTAssertEqual(rc3, 0, e3)
        XCTAssertFalse(e3.contains("already complete"), e3)
        XCTAssertEqual(try PCABasis.load(out).sampleCount, 30)
        // The same folder twice (also through index.json or a symlink) would count its images twice.
        try FileManager.default.createSymbolicLink(atPath: dir + "/alias", withDestinationPath: dir + "/shards")
        for second in [dir + "/shards", dir + "/shards/index.json", dir + "/alias"] {
            XCTAssertThrowsError(try ShardSet([dir + "/shards", second])) { e in
                XCTAssertTrue("\(e)".contains("the same shard folder is given twice"), "\(e)")
            }
        }
        let (rc4, _, e4) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", dir + "/shards", "--out", dir + "/twice.h5"])
        XCTAssertEqual(rc4, 1, e4)
        XCTAssertTrue(e4.contains("the same shard folder is given twice"), e4)
    }
}
