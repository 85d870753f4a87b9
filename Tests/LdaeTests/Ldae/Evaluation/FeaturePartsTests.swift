import Foundation
import XCTest
@testable import Ldae

/// `ldae-zoo features --part i/n` and `features-merge`: the merged parts are the unsplit command's files, byte for
/// byte; a wrong set of parts is refused with one line naming the file.
final class FeaturePartsTests: XCTestCase {
    func zoo(_ args: [String], _ store: ZooStore) throws -> (Int32, String, String) {
        try TestSupport.run("ldae-zoo", args + (args.first == "features-merge" ? [] : ["--zoo", store.root]))   // merge reads no zoo
    }

    /// Runs the n parts of `features micro SHARDS` with `extra` options; returns the part files.
    func parts(_ n: Int, shards: String, dir: String, store: ZooStore, extra: [String] = []) throws -> [String] {
        try (0..<n).map { i in
            let p = dir + "/f-\(i)-of-\(n).npy"
            let (rc, out, e) = try zoo(["features", "micro", shards, "--out", p, "--part", "\(i)/\(n)", "--batch", "7"] + extra, store)
            XCTAssertEqual(rc, 0, e)
            XCTAssertTrue(out.contains("part \(i)/\(n)"), out)
            return p
        }
    }

    func testMergedPartsEqualOneRunByteForByte() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let shards = try ZooEvalTests.shards(tmp + "/s", n: 60, seed: 2)   // shards of 25: parts end inside shards
        for (n, extra) in [(3, [] as [String]), (2, ["--max-images", "50"]), (7, ["--max-images", "5", "--pooling", "grid2"])] {
            let whole = tmp + "/whole.npy"
            var (rc, _, e) = try zoo(["features", "micro", shards, "--out", whole, "--batch", "7"] + extra, store)
            XCTAssertEqual(rc, 0, e)
            XCTAssertFalse(FileUtil.exists(FeatureFiles.sidecar(for: whole)))   // the unsplit command writes no record
            let ps = try parts(n, shards: shards, dir: tmp, store: store, extra: extra)
            let rec = try FeaturePart.load(features: ps[1])
            XCTAssertEqual(rec.parts, n); XCTAssertEqual(rec.model, "micro@v1")
            let merged = tmp + "/merged.npy"
            let out: String
            (rc, out, e) = try zoo(["features-merge"] + ps.reversed() + ["--out", merged], store)
            XCTAssertEqual(rc, 0, e)
            XCTAssertTrue(out.contains("from \(n) parts"), out)
            XCTAssertEqual(try SHA256.hex(file: merged), try SHA256.hex(file: whole), "n = \(n) \(extra)")
            XCTAssertEqual(try SHA256.hex(file: FeatureFiles.labels(for: merged)), try SHA256.hex(file: FeatureFiles.labels(for: whole)))
            let h = try NPY.header(merged)
            XCTAssertEqual(h.shape[0], extra.contains("50") ? 50 : extra.contains("5") ? 5 : 60)
            for p in ps + [merged, whole] { try FileManager.default.removeItem(atPath: p) }
        }
    }

    func testNumpyConcatenationOfThePartsIsTheMergedFile() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3 with numpy not installed") }
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let shards = try ZooEvalTests.shards(tmp + "/s", n: 30, seed: 2)
        let ps = try parts(3, shards: shards, dir: tmp, store: store)
        let (rc, _, e) = try zoo(["features-merge"] + ps + ["--out", tmp + "/m.npy"], store)
        XCTAssertEqual(rc, 0, e)
        let out = try TestSupport.runPython(py, """
            import json, numpy as np, sys
            d = sys.argv[1]
            parts = sorted((json.load(open(f"{d}/f-{i}-of-3.part.json")) for i in range(3)), key=lambda r: r["part"])
            x = np.concatenate([np.load(f"{d}/f-{r['part']}-of-3.npy") for r in parts])
            y = np.concatenate([np.load(f"{d}/f-{r['part']}-of-3.labels.npy") for r in parts])
            print(x.shape, bool(np.array_equal(x, np.load(f"{d}/m.npy"))), bool(np.array_equal(y, np.load(f"{d}/m.labels.npy"))))
            """, args: [tmp])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "(30, 32) True True")
    }

    func testWrongSetsOfPartsAreRefusedNamingTheFile() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let shards = try ZooEvalTests.shards(tmp + "/s", n: 20, seed: 2)
        let ps = try parts(3, shards: shards, dir: tmp, store: store)
        func fails(_ args: [String], _ expect: [String], status: Int32 = 1) throws {
            let (rc, _, e) = try zoo(["features-merge"] + args, store)
            XCTAssertEqual(rc, status, e)
            for s in expect { XCTAssertTrue(e.contains(s), "expected '\(s)' in: \(e)") }
            if status == 1 { XCTAssertEqual(e.split(separator: "\n").count, 1, e) }
        }
        let out = tmp + "/m.npy"
        try fails([ps[0], ps[2], "--out", out], ["ldae-zoo: error: part 1/3 missing"])
        try fails(ps + [ps[2], "--out", out], [ps[2] + ": part 2/3 is given twice"])
        // Another split, other settings, other data, not a part.
        let two = tmp + "/two/f.npy"
        try FileManager.default.createDirectory(atPath: tmp + "/two", withIntermediateDirectories: true)
        _ = try zoo(["features", "micro", shards, "--out", two, "--part", "1/2"], store)
        try fails([ps[0], two, ps[2], "--out", out], [two + ": is part 1/2, of a split into 2"])
        let grid = tmp + "/grid.npy"
        _ = try zoo(["features", "micro", shards, "--out", grid, "--part", "2/3", "--pooling", "grid2"], store)
        try fails([ps[0], ps[1], grid, "--out", out], [grid + ": features of other settings", "pooling grid2"])
        let other = try ZooEvalTests.shards(tmp + "/o", n: 20, seed: 5)
        let foreign = tmp + "/foreign.npy"
        _ = try zoo(["features", "micro", other, "--out", foreign, "--part", "2/3"], store)
        try fails([ps[0], ps[1], foreign, "--out", out], [foreign + ": features of other data", "index_sha256"])
        let whole = tmp + "/whole.npy"
        _ = try zoo(["features", "micro", shards, "--out", whole], store)
        try fails([ps[0], ps[1], whole, "--out", out], [whole + ": has no whole.part.json beside it"])
        // A part file that does not match its record (truncated).
        let d = try Data(contentsOf: URL(fileURLWithPath: ps[1]))
        try d.prefix(d.count - 4).write(to: URL(fileURLWithPath: ps[1]))
        try fails(ps + ["--out", out], [ps[1] + ": is \(d.count - 4) bytes"])
        XCTAssertFalse(FileUtil.exists(out))
        try fails([ps[0], "--out", ps[0]], ["is one of the parts"])
        try fails(["--out", out], ["features-merge needs the part files"], status: 2)
        // Re-running a part as an unsplit run removes its stale record.
        _ = try zoo(["features", "micro", shards, "--out", ps[2]], store)
        XCTAssertFalse(FileUtil.exists(FeatureFiles.sidecar(for: ps[2])))
    }
}
