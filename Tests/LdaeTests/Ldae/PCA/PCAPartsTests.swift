import Foundation
import XCTest
@testable import Ldae

/// `ldae-fit-pca --part i/n --partial` and `combine` through the library: the parts' exact sums add up to the whole
/// run's, bit for bit (so the basis is the whole run's with tolerance 0), with and without a subsample; the file
/// reads back as plain datasets and attributes; a wrong set of parts is refused naming the file.
final class PCAPartsTests: XCTestCase {
    /// 23 images of 8 x 8 (4 patches of D = 48 each) in shards of 5: parts end inside shards.
    static func data(_ dir: String, seed: UInt64 = 1, patchSize: Int = 4) throws -> (set: ShardSet, images: [[UInt8]]) {
        try TestSupport.randomShards(dir: dir, count: 23, seed: seed, imageSize: 8, patchSize: patchSize, perShard: 5)
    }

    /// Writes the n parts' files into `dir` and returns their paths.
    static func writeParts(_ set: ShardSet, n: Int, dir: String, maxPatches: Int? = nil, seed: UInt64 = 0) throws -> [String] {
        try (0..<n).map { i in
            let p = dir + "/part-\(i)-of-\(n).h5"
            try PCAPartialSums.accumulate(set, part: i, of: n, maxPatches: maxPatches, seed: seed, chunkImages: 3).save(p)
            return p
        }
    }

    /// Largest difference between two bases: mean, eigenvalues, and components with each row's sign aligned.
    static func maxDifference(_ a: PCABasis, _ b: PCABasis) -> Float {
        let D = a.dim
        var m: Float = 0
        for j in 0..<D { m = max(m, abs(a.mean[j] - b.mean[j]), abs(a.eigenvalues[j] - b.eigenvalues[j])) }
        for k in 0..<D {
            let dot = (0..<D).reduce(Float(0)) { $0 + a.components[k * D + $1] * b.components[k * D + $1] }
            let s: Float = dot < 0 ? -1 : 1
            for j in 0..<D { m = max(m, abs(a.components[k * D + j] - s * b.components[k * D + j])) }
        }
        return m
    }

    func testCombinedPartsGiveTheSingleRunsBasisExactly() throws {
        let dir = TestSupport.tempDir()
        let (set, _) = try Self.data(dir + "/s")
        for maxPatches in [nil, 30] as [Int?] {
            let whole = try PCAStream.accumulate(set, maxPatches: maxPatches, seed: 7, chunkImages: 4)
            let wholeBasis = try PCAStream.fit(set, maxPatches: maxPatches, seed: 7)
            for n in [2, 3, 30] {   // 30 parts of 23 images: some parts are empty
                let paths = try Self.writeParts(set, n: n, dir: dir, maxPatches: maxPatches, seed: 7)
                let (acc, ref) = try PCACombine.sums(paths.reversed())   // any order on the command line
                XCTAssertEqual(ref.part, 0)
                // The exact integer sums: identical to the whole run's, in any split.
                XCTAssertEqual(acc.count, maxPatches ?? 23 * 4, "n = \(n)")
                XCTAssertEqual(acc.byteCount, whole.byteCount)
                XCTAssertEqual(acc.byteSum, whole.byteSum, "n = \(n), max \(String(describing: maxPatches))")
                XCTAssertEqual(acc.byteGram, whole.byteGram, "n = \(n), max \(String(describing: maxPatches))")
                let (b, _) = try PCACombine.basis(paths)
                XCTAssertEqual(Self.maxDifference(b, wholeBasis), 0, "n = \(n)")   // tolerance 0: bit-identical
                XCTAssertEqual(b.components, wholeBasis.components)
                XCTAssertEqual(b.sampleCount, wholeBasis.sampleCount)
                XCTAssertEqual(b.indexSHA256, set.indexSHA256)
                XCTAssertEqual(b.fitIdentity, PCAResumeState.identity(set, maxPatches: maxPatches, seed: 7))
                for p in paths { try FileManager.default.removeItem(atPath: p) }
            }
        }
        // Another seed selects other patches: the parts do carry the whole run's draws, not any draws.
        let other = try Self.writeParts(set, n: 2, dir: dir, maxPatches: 30, seed: 8)
        XCTAssertNotEqual(try PCACombine.sums(other).accumulator.byteSum,
                          try PCAStream.accumulate(set, maxPatches: 30, seed: 7).byteSum)
    }

    func testPartialFileHoldsThePartsSumsAsPlainDatasets() throws {
        let dir = TestSupport.tempDir()
        let (set, images) = try Self.data(dir + "/s")
        let path = dir + "/part1.h5"
        try PCAPartialSums.accumulate(set, part: 1, of: 3, chunkImages: 2).save(path)
        let g = set.geometry, D = g.tokenDim
        let range = ImageFolder.partRange(count: 23, part: 1, of: 3)
        XCTAssertEqual(range, 7..<15)
        // What an h5py user sees, read with our HDF5 reader.
        let f = try H5File.open(path)
        defer { try? f.close() }
        XCTAssertEqual(try f.stringAttribute("format"), "ldae-pca-part")
        XCTAssertEqual(try f.intAttribute("format_version"), 1)
        for (k, v) in [("part", 1), ("parts", 3), ("image_start", 7), ("image_end", 15), ("images_total", 23),
                       ("count", 8 * 4), ("patch_size", 4), ("channels", 3), ("image_size", 8), ("tokens", 4), ("dim", 48),
                       ("max_patches", -1), ("seed", 0)] {
            XCTAssertEqual(try f.intAttribute(k), v, k)
        }
        XCTAssertEqual(try f.stringAttribute("index_sha256"), set.indexSHA256)
        XCTAssertEqual(try f.doubleAttribute("value_offset"), 128)
        XCTAssertEqual(try f.doubleAttribute("value_scale"), 127.5)
        let (sum, ss) = try f.read("sum", as: Double.self)
        let (outer, os) = try f.read("sum_outer", as: Double.self)
        XCTAssertEqual(ss, [D]); XCTAssertEqual(os, [D, D])
        for name in ["sum", "sum_outer"] {
            let d = try f.dataset(name)
            XCTAssertTrue(d.elementDescription.isFloat && d.elementDescription.size == 8, name)   // float64
            d.close()
        }
        // The sums of (v - 128) over the part's patches, computed here from the images themselves.
        var want = [Double](repeating: 0, count: D), wantOuter = [Double](repeating: 0, count: D * D)
        for i in range {
            let p = g.patchify(images[i])
            for t in 0..<g.tokens {
                let x = (0..<D).map { Double(p[t * D + $0]) - 128 }
                for a in 0..<D { want[a] += x[a]; for b in 0..<D { wantOuter[a * D + b] += x[a] * x[b] } }
            }
        }
        XCTAssertEqual(sum, want)
        XCTAssertEqual(outer, wantOuter)   // the full symmetric matrix
        // And back through the loader.
        let back = try PCAPartialSums.load(path)
        XCTAssertEqual(back.images, 7..<15); XCTAssertEqual(back.accumulator.count, 32); XCTAssertNil(back.maxPatches)
    }

    func testWrongSetsOfPartsAreRefusedNamingTheFile() throws {
        let dir = TestSupport.tempDir()
        let (set, _) = try Self.data(dir + "/s")
        let three = try Self.writeParts(set, n: 3, dir: dir)
        func refusal(_ paths: [String]) -> String {
            do { _ = try PCACombine.sums(paths); return "accepted" } catch { return "\(error)" }
        }
        // A missing part.
        var e = refusal([three[0], three[2]])
        XCTAssertTrue(e.contains("part 1/3 missing") && e.contains("all 3 part files"), e)
        // A duplicate part (the same file twice, or a copy).
        try FileManager.default.copyItem(atPath: three[1], toPath: dir + "/copy.h5")
        e = refusal(three + [dir + "/copy.h5"])
        XCTAssertTrue(e.hasPrefix(dir + "/copy.h5: ") && e.contains("part 1/3 is given twice") && e.contains(three[1]), e)
        // A part of another split.
        let two = try Self.writeParts(set, n: 2, dir: dir)
        e = refusal([three[0], three[1], two[1]])
        XCTAssertTrue(e.hasPrefix(two[1] + ": ") && e.contains("split into 2") && e.contains("split into 3"), e)
        // A part of another data set (same geometry).
        let (otherSet, _) = try Self.data(dir + "/other", seed: 2)
        let foreign = dir + "/foreign.h5"
        try PCAPartialSums.accumulate(otherSet, part: 2, of: 3).save(foreign)
        e = refusal([three[0], three[1], foreign])
        XCTAssertTrue(e.hasPrefix(foreign + ": ") && e.contains("another data set"), e)
        // Another patch size.
        let (p2Set, _) = try Self.data(dir + "/p2", patchSize: 2)
        let p2 = dir + "/p2.h5"
        try PCAPartialSums.accumulate(p2Set, part: 2, of: 3).save(p2)
        e = refusal([three[0], three[1], p2])
        XCTAssertTrue(e.hasPrefix(p2 + ": ") && e.contains("other patch size") && e.contains("patch_size 2"), e)
        // Other sampling options.
        let sub = dir + "/sub.h5"
        try PCAPartialSums.accumulate(set, part: 2, of: 3, maxPatches: 40, seed: 1).save(sub)
        e = refusal([three[0], three[1], sub])
        XCTAssertTrue(e.hasPrefix(sub + ": ") && e.contains("other sampling options") && e.contains("--max-patches 40"), e)
        // Not a partial-sum file; a damaged one.
        let basis = dir + "/pca.h5"
        try PCAStream.fit(set).save(basis)
        e = refusal([three[0], three[1], basis])
        XCTAssertTrue(e.hasPrefix(basis + ": ") && e.contains("not an ldae-fit-pca partial-sum file"), e)
        let f = try H5File.open(three[2], writable: true)
        try f.setAttribute("image_start", 3)
        try f.close()
        e = refusal(three)
        XCTAssertTrue(e.hasPrefix(three[2] + ": ") && e.contains("not part 2/3"), e)
        XCTAssertEqual(e.split(separator: "\n").count, 1, e)
    }

    func testInterruptedPartResumesToTheSameSums() throws {
        let dir = TestSupport.tempDir()
        let (set, _) = try Self.data(dir + "/s")
        for maxPatches in [nil, 30] as [Int?] {
            let whole = try PCAPartialSums.accumulate(set, part: 1, of: 2, maxPatches: maxPatches, seed: 3)
            let path = dir + "/p.h5.resume.h5"
            var ck = PCACheckpointing(path: path, interval: 1e9, resume: false)
            ck.stopAfterChunks = 2
            XCTAssertThrowsError(try PCAPartialSums.accumulate(set, part: 1, of: 2, maxPatches: maxPatches, seed: 3,
                                                               checkpointing: ck, chunkImages: 2))
            XCTAssertEqual(try PCAResumeState.load(path).imagesDone, 4)   // part 1/2 is images 11..<23: chunks 11-12, 13-14
            let resumed = try PCAPartialSums.accumulate(set, part: 1, of: 2, maxPatches: maxPatches, seed: 3,
                                                        checkpointing: PCACheckpointing(path: path, interval: 1e9, resume: true))
            XCTAssertEqual(resumed.accumulator.byteSum, whole.accumulator.byteSum)
            XCTAssertEqual(resumed.accumulator.byteGram, whole.accumulator.byteGram)
            // The state of part 1/2 is not taken for part 0/2.
            XCTAssertThrowsError(try PCAPartialSums.accumulate(set, part: 0, of: 2, maxPatches: maxPatches, seed: 3,
                                                               checkpointing: PCACheckpointing(path: path, interval: 1e9, resume: true))) {
                XCTAssertTrue("\($0)".contains("other data or settings"), "\($0)")
            }
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
