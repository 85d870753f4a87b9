import Foundation
import XCTest
@testable import Ldae

/// `ldae-fit-pca SHARDS --part i/n --partial PART.h5` and `ldae-fit-pca combine` as a user runs them: combine writes
/// the same pca.h5 and figures, byte for byte, as one run; errors are one line naming the file.
final class PCAPartsCommandTests: XCTestCase {
    func fit(_ args: [String]) throws -> (Int32, String, String) { try TestSupport.run("ldae-fit-pca", args) }

    func testCombineWritesTheSameFilesAsOneRun() throws {
        let dir = TestSupport.tempDir()
        let shards = dir + "/shards"
        _ = try PCAPartsTests.data(shards)
        for sampling in [[], ["--max-patches", "30", "--seed", "7"]] {
            let tag = sampling.isEmpty ? "all" : "sub"
            let whole = dir + "/whole-\(tag).h5"
            var (rc, _, e) = try fit([shards, "--out", whole] + sampling)
            XCTAssertEqual(rc, 0, e)
            for n in [2, 3] {
                var parts: [String] = []
                for i in 0..<n {
                    let p = dir + "/\(tag)-\(i)-of-\(n).h5"
                    let (rc, out, e) = try fit([shards, "--part", "\(i)/\(n)", "--partial", p] + sampling)
                    XCTAssertEqual(rc, 0, e)
                    XCTAssertTrue(out.contains("part \(i)/\(n)"), out)
                    parts.append(p)
                }
                let combined = dir + "/combined-\(tag)-\(n).h5"
                let out: String
                (rc, out, e) = try fit(["combine"] + parts.reversed() + ["--out", combined, "--data", shards])
                XCTAssertEqual(rc, 0, e)
                XCTAssertTrue(out.contains("cumulative explained") && out.contains("combined \(n) parts"), out)
                XCTAssertEqual(try SHA256.hex(file: combined), try SHA256.hex(file: whole), "\(tag), n = \(n)")
                for (a, b) in zip([PCAFigures.figurePaths(for: combined).eigenpatches, PCAFigures.figurePaths(for: combined).reconstructions],
                                  [PCAFigures.figurePaths(for: whole).eigenpatches, PCAFigures.figurePaths(for: whole).reconstructions]) {
                    XCTAssertEqual(try SHA256.hex(file: a), try SHA256.hex(file: b), a)
                }
            }
        }
        // Without --data: the basis and the eigen-patches only.
        let parts = [dir + "/all-0-of-2.h5", dir + "/all-1-of-2.h5"]
        let bare = dir + "/bare.h5"
        var (rc, out, e) = try fit(["combine"] + parts + ["--out", bare])
        XCTAssertEqual(rc, 0, e)
        XCTAssertTrue(out.contains("no reconstruction figure"), out)
        XCTAssertTrue(FileUtil.exists(PCAFigures.figurePaths(for: bare).eigenpatches))
        XCTAssertFalse(FileUtil.exists(PCAFigures.figurePaths(for: bare).reconstructions))
        // --resume on a finished part does nothing.
        let before = try SHA256.hex(file: parts[1])
        (rc, _, e) = try fit([shards, "--part", "1/2", "--partial", parts[1], "--resume"])
        XCTAssertEqual(rc, 0, e)
        XCTAssertTrue(e.contains("already complete"), e)
        XCTAssertEqual(try SHA256.hex(file: parts[1]), before)
        // --data of other shards is refused.
        _ = try PCAPartsTests.data(dir + "/other", seed: 9)
        (rc, _, e) = try fit(["combine"] + parts + ["--out", dir + "/x.h5", "--data", dir + "/other"])
        XCTAssertEqual(rc, 1)
        XCTAssertTrue(e.contains("--data is not the data set") && e.contains(dir + "/other/index.json"), e)
        XCTAssertFalse(FileUtil.exists(dir + "/x.h5"))
    }

    func testErrorsAreOneLineNamingTheFile() throws {
        let dir = TestSupport.tempDir()
        let shards = dir + "/shards"
        _ = try PCAPartsTests.data(shards)
        var parts: [String] = []
        for i in 0..<3 {
            parts.append(dir + "/p\(i).h5")
            let (rc, _, e) = try fit([shards, "--part", "\(i)/3", "--partial", parts[i], "--max-patches", "40"])
            XCTAssertEqual(rc, 0, e)
        }
        func fails(_ args: [String], _ expect: [String], status: Int32 = 1) throws {
            let (rc, _, e) = try fit(args)
            XCTAssertEqual(rc, status, e)
            for s in expect { XCTAssertTrue(e.contains(s), "expected '\(s)' in: \(e)") }
            if status == 1 { XCTAssertEqual(e.split(separator: "\n").count, 1, e) }
        }
        try fails(["combine", parts[0], parts[2], "--out", dir + "/a.h5"], ["ldae-fit-pca: error: part 1/3 missing"])
        try fails(["combine", parts[0], parts[1], parts[2], parts[1], "--out", dir + "/a.h5"], [parts[1] + ": part 1/3 is given twice"])
        let sub = dir + "/other-sampling.h5"
        _ = try fit([shards, "--part", "2/3", "--partial", sub, "--max-patches", "41"])
        try fails(["combine", parts[0], parts[1], sub, "--out", dir + "/a.h5"], [sub + ": other sampling options", "--max-patches 41"])
        XCTAssertFalse(FileUtil.exists(dir + "/a.h5"))
        // Usage errors (exit 2).
        try fails([shards, "--part", "1/3"], ["--part needs --partial"], status: 2)
        try fails([shards, "--partial", dir + "/b.h5"], ["--partial needs --part"], status: 2)
        try fails([shards, "--part", "3/3", "--partial", dir + "/b.h5"], ["--part expects i/n"], status: 2)
        try fails([shards, "--part", "0/3", "--partial", dir + "/b.h5", "--out", dir + "/c.h5"], ["give --out to `ldae-fit-pca combine`"], status: 2)
        try fails(["combine", "--out", dir + "/c.h5"], ["combine needs the part files"], status: 2)
        try fails(["combine", parts[0]], ["combine needs --out"], status: 2)
    }

    func testH5pyReadsThePartsAndAddsThemUpToTheBasis() throws {
        guard let py = TestSupport.pythonWithH5py else { throw XCTSkip("python3 with h5py not installed") }
        let dir = TestSupport.tempDir()
        _ = try PCAPartsTests.data(dir + "/shards")
        var args = ["combine"]
        for i in 0..<3 {
            let (rc, _, e) = try fit([dir + "/shards", "--part", "\(i)/3", "--partial", dir + "/p\(i).h5"])
            XCTAssertEqual(rc, 0, e)
            args.append(dir + "/p\(i).h5")
        }
        let (rc, _, e) = try fit(args + ["--out", dir + "/pca.h5", "--no-figures"])
        XCTAssertEqual(rc, 0, e)
        // The recipe of docs/formats.md: sums add; mean and covariance in the pixel scaling from them.
        let out = try TestSupport.runPython(py, """
            import h5py, numpy as np, sys
            d = sys.argv[1]
            parts = [h5py.File(f"{d}/p{i}.h5", "r") for i in range(3)]
            assert [p.attrs["part"] for p in parts] == [0, 1, 2] and all(p.attrs["parts"] == 3 for p in parts)
            n = sum(int(p.attrs["count"]) for p in parts)
            s = sum(p["sum"][:] for p in parts); so = sum(p["sum_outer"][:] for p in parts)
            assert s.dtype == np.float64 and so.shape == (48, 48) and np.array_equal(so, so.T)
            mean = 128 / 127.5 - 1 + s / n / 127.5
            cov = (so - np.outer(s, s) / n) / (n - 1) / 127.5 ** 2
            b = h5py.File(f"{d}/pca.h5", "r")
            ev = np.linalg.eigvalsh(cov)[::-1]
            print(n, float(np.abs(mean - b["mean"][:]).max()), float(np.abs(ev - b["eigenvalues"][:]).max()))
            """, args: [dir])
        let v = out.split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan }
        XCTAssertEqual(v.count, 3, out)
        XCTAssertEqual(v[0], 92)
        XCTAssertLessThan(v[1], 1e-6, out)   // float32 in pca.h5
        XCTAssertLessThan(v[2], 1e-6, out)
    }
}
