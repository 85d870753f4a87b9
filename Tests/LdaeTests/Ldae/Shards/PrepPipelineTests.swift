import Foundation
import XCTest
@testable import Ldae

/// The whole `ldae-prep images` pipeline on real fixtures: skipped files and reasons, labels and paths,
/// determinism across worker counts, resume after a simulated kill, --part + merge, h5py interop.
final class PrepPipelineTests: XCTestCase {
    static func fx(_ p: String) -> String { TestSupport.fixtures + "/" + p }

    static func copy(_ src: String, _ dst: String) throws {
        try FileManager.default.createDirectory(atPath: (dst as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: src, toPath: dst)
    }

    /// alpha/ (good files of every kind + hidden junk), beta/ (bad files + 3 good), zeta/ (empty class folder).
    static func mixedFolder() throws -> String {
        let d = TestSupport.tempDir("mixed") + "/in"
        let cifar = fx("cifar10/train/airplane")
        let jpgs = try FileManager.default.contentsOfDirectory(atPath: cifar).sorted()
        for f in jpgs.prefix(5) { try copy(cifar + "/" + f, d + "/alpha/" + f) }
        for f in jpgs.dropFirst(5).prefix(3) { try copy(cifar + "/" + f, d + "/beta/ok-" + f) }
        try copy(fx("png/rgb8_named.jpg"), d + "/alpha/png-named.jpg")
        try copy(fx("png/rgba8.png"), d + "/alpha/rgba8.png")
        try copy(fx("exif/orient6.jpg"), d + "/alpha/sub/orient6.jpg")     // nested: found recursively
        try copy(fx("jpeg/cmyk.jpg"), d + "/alpha/cmyk.jpg")
        try copy(fx("jpeg/large400x300.jpg"), d + "/alpha/large.jpg")
        try copy(fx("warn/extraneous_bytes.jpg"), d + "/alpha/warn.jpg")
        try copy(fx("bad/garbage.jpg"), d + "/alpha/.DS_Store")
        try copy(fx("bad/garbage.jpg"), d + "/alpha/._photo.jpg")
        try copy(fx("bad/garbage.jpg"), d + "/alpha/.ipynb_checkpoints/x.jpg")
        for f in ["truncated.jpg", "truncated.png", "garbage.jpg", "empty.jpg", "image.gif", "notes.txt", "bomb.png"] {
            try copy(fx("bad/" + f), d + "/beta/" + f)
        }
        try FileManager.default.createDirectory(atPath: d + "/zeta", withIntermediateDirectories: true)
        return d
    }

    static func options(_ input: String, _ out: String, size: Int = 32, patch: Int = 4) -> Prep.Options {
        var o = Prep.Options(input: input, out: out, image: .init(geometry: PatchGeometry(imageSize: size, patchSize: patch)))
        o.quiet = true
        o.maxSkipFraction = 1
        return o
    }

    /// All patches and labels of a shard folder, in order, plus the paths.
    static func contents(_ dir: String) throws -> (patches: [UInt8], labels: [Int32], paths: [String]) {
        let set = try ShardSet(dir)
        var p: [UInt8] = [], l: [Int32] = [], paths: [String] = []
        for i in set.shards.indices {
            let r = try set.read(shard: i)
            p += r.patches; l += r.labels
            let f = try set.open(shard: i)
            paths += try f.readStrings(ShardFormat.paths)
            try f.close()
        }
        return (p, l, paths)
    }

    static func patches(ofFile path: String, size: Int = 32, patch: Int = 4) throws -> [UInt8] {
        let proc = ImageProcessor(.init(geometry: PatchGeometry(imageSize: size, patchSize: patch)))
        var out = [UInt8](repeating: 0, count: PatchGeometry(imageSize: size, patchSize: patch).valuesPerImage)
        _ = try out.withUnsafeMutableBufferPointer { try proc.process(path: path, into: $0.baseAddress!) }
        return out
    }

    func testMixedFolderSkipsBadFilesWithReasons() throws {
        let input = try Self.mixedFolder()
        let out = (input as NSString).deletingLastPathComponent + "/out"
        var o = Self.options(input, out)
        o.shardSize = 4
        let r = try Prep.run(o)
        let idx = try ShardIndex.load(out).index
        XCTAssertEqual(idx.classNames, ["alpha", "beta", "zeta"])
        XCTAssertEqual(idx.emptyClasses, ["zeta"])
        XCTAssertEqual(idx.filesRead, 21)                       // hidden files and folders are not read
        XCTAssertEqual(idx.total, 14)
        XCTAssertEqual(idx.shards.map { $0.count }, [4, 4, 4, 2])
        let reasons = Dictionary(uniqueKeysWithValues: idx.skipped.map { ($0.path, $0.reason) })
        XCTAssertEqual(Set(reasons.keys), ["beta/truncated.jpg", "beta/truncated.png", "beta/garbage.jpg", "beta/empty.jpg",
                                           "beta/image.gif", "beta/notes.txt", "beta/bomb.png"])
        XCTAssertTrue(reasons["beta/truncated.jpg"]!.hasPrefix("truncated"), reasons["beta/truncated.jpg"]!)
        XCTAssertTrue(reasons["beta/empty.jpg"]!.hasPrefix("empty"))
        XCTAssertTrue(reasons["beta/image.gif"]!.hasPrefix("unsupported_format: GIF"))
        XCTAssertTrue(reasons["beta/notes.txt"]!.hasPrefix("not_an_image"))
        XCTAssertTrue(reasons["beta/bomb.png"]!.hasPrefix("too_large"))
        XCTAssertTrue(reasons["beta/truncated.png"]!.hasPrefix("truncated: png: truncated file"), reasons["beta/truncated.png"]!)
        XCTAssertEqual(idx.skippedCounts, ["truncated": 2, "not_an_image": 2, "empty": 1, "unsupported_format": 1, "too_large": 1])
        XCTAssertEqual(idx.filesWithWarnings, 1)
        XCTAssertGreaterThan(idx.corruptDataWarnings ?? 0, 0)
        XCTAssertFalse(FileUtil.exists(out + "/" + Prep.stateFile))
        XCTAssertFalse(r.alreadyComplete)

        let c = try Self.contents(out)
        XCTAssertEqual(c.paths, ["alpha/0000.jpg", "alpha/0001.jpg", "alpha/0002.jpg", "alpha/0003.jpg", "alpha/0004.jpg",
                                 "alpha/cmyk.jpg", "alpha/large.jpg", "alpha/png-named.jpg", "alpha/rgba8.png",
                                 "alpha/sub/orient6.jpg", "alpha/warn.jpg",
                                 "beta/ok-0005.jpg", "beta/ok-0006.jpg", "beta/ok-0007.jpg"])
        XCTAssertEqual(c.labels, [Int32](repeating: 0, count: 11) + [1, 1, 1])
        // A CIFAR image passes through untouched (32x32 at --size 32): exactly its decoded pixels, patchified.
        let direct = try PrepDecodeTests.decode("cifar10/train/airplane/0000.jpg")
        XCTAssertEqual(Array(c.patches[0..<3072]), PatchGeometry(imageSize: 32, patchSize: 4).patchify(direct.pixels))
        // The EXIF-rotated file is stored upright: its top-left quadrant is red (see exif/upright.png), bottom-right white.
        let g = PatchGeometry(imageSize: 32, patchSize: 4)
        let rot = g.unpatchify(Array(c.patches[(9 * 3072)..<(10 * 3072)]))
        let tl = Array(rot[((2 * 32) + 2) * 3..<((2 * 32) + 2) * 3 + 3]), br = Array(rot[((29 * 32) + 29) * 3..<((29 * 32) + 29) * 3 + 3])
        XCTAssertGreaterThan(tl[0], 200); XCTAssertLessThan(tl[1], 60); XCTAssertLessThan(tl[2], 60)
        XCTAssertTrue(br.allSatisfy { $0 > 200 }, "\(br)")
    }

    func testDeterministicAcrossWorkerCounts() throws {
        let input = try Self.mixedFolder()
        try FileManager.default.copyItem(atPath: Self.fx("cifar10/test"), toPath: input + "/gamma")
        let base = (input as NSString).deletingLastPathComponent
        var outs: [(patches: [UInt8], labels: [Int32], paths: [String])] = []
        for w in [1, 2, 3] {
            var o = Self.options(input, base + "/out\(w)")
            o.workers = w; o.shardSize = 37; o.batch = 16
            try Prep.run(o)
            outs.append(try Self.contents(base + "/out\(w)"))
        }
        XCTAssertEqual(outs[0].labels.count, 14 + 100)
        let shas = try [1, 2, 3].map { w in try ShardIndex.load(base + "/out\(w)").index.shards.map { $0.sha256 } }
        XCTAssertEqual(shas[0], shas[1]); XCTAssertEqual(shas[0], shas[2])     // whole shard files byte-identical
        for k in 1..<3 {
            XCTAssertTrue(outs[0].patches == outs[k].patches, "patches differ between --workers 1 and \(k + 1)")
            XCTAssertEqual(outs[0].labels, outs[k].labels)
            XCTAssertEqual(outs[0].paths, outs[k].paths)
        }
    }

    func testResumeAfterSimulatedKillGivesTheSameShards() throws {
        let input = Self.fx("cifar10/train")
        let base = TestSupport.tempDir()
        var o = Self.options(input, base + "/full")
        o.shardSize = 30; o.batch = 16
        try Prep.run(o)
        var k = Self.options(input, base + "/killed")
        k.shardSize = 30; k.batch = 16; k.stopAfterShards = 2
        XCTAssertThrowsError(try Prep.run(k)) { XCTAssertTrue("\($0)".contains("stopped after 2"), "\($0)") }
        XCTAssertFalse(FileUtil.exists(base + "/killed/index.json"))
        XCTAssertTrue(FileUtil.exists(base + "/killed/" + Prep.stateFile))
        XCTAssertEqual(Prep.existingShards(base + "/killed"), 2)
        // A half-written shard left by the kill is removed, and a run without --resume refuses the folder.
        _ = FileManager.default.createFile(atPath: base + "/killed/.shard-00002.h5.tmp-99999", contents: Data([1, 2, 3]))
        k.stopAfterShards = nil
        XCTAssertThrowsError(try Prep.run(k)) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
        var before = stat(); stat(base + "/killed/shard-00000.h5", &before)
        k.resume = true
        let r = try Prep.run(k)
        XCTAssertEqual(r.resumedShards, 2)
        var after = stat(); stat(base + "/killed/shard-00000.h5", &after)
        XCTAssertEqual(before.st_ino, after.st_ino, "a complete shard was rewritten on resume")
        XCTAssertFalse(FileUtil.exists(base + "/killed/.shard-00002.h5.tmp-99999"))
        let a = try Self.contents(base + "/full"), b = try Self.contents(base + "/killed")
        XCTAssertTrue(a.patches == b.patches); XCTAssertEqual(a.labels, b.labels); XCTAssertEqual(a.paths, b.paths)
        // Shard files are byte-identical to the uninterrupted run's (HDF5 writes no object timestamps).
        let killedIndex = try ShardIndex.load(base + "/killed").index
        XCTAssertEqual(killedIndex.shards.map { $0.sha256 }, try ShardIndex.load(base + "/full").index.shards.map { $0.sha256 })
        for s in killedIndex.shards { XCTAssertEqual(s.sha256, try SHA256.hex(file: base + "/killed/" + s.file)) }
        // Resuming a complete run does nothing.
        XCTAssertTrue(try Prep.run(k).alreadyComplete)
    }

    func testPartsMergeIntoTheSingleRunOrder() throws {
        let input = Self.fx("cifar10/test")
        let base = TestSupport.tempDir()
        var o = Self.options(input, base + "/full")
        o.shardSize = 40
        try Prep.run(o)
        var parts: [String] = []
        for i in [2, 0, 1] {
            var p = Self.options(input, base + "/part\(i)")
            p.shardSize = 40; p.part = (i, 3)
            try Prep.run(p)
            parts.append(base + "/part\(i)")
            XCTAssertEqual(try ShardIndex.load(base + "/part\(i)").index.part, "\(i)/3")
        }
        XCTAssertThrowsError(try PrepMerge.run(parts: Array(parts.prefix(2)), out: base + "/bad")) {
            XCTAssertTrue("\($0)".contains("1/3 missing"), "\($0)")
        }
        let idx = try PrepMerge.run(parts: parts, out: base + "/merged")
        XCTAssertEqual(idx.total, 100)
        XCTAssertNil(idx.part)
        let a = try Self.contents(base + "/full"), b = try Self.contents(base + "/merged")
        XCTAssertTrue(a.patches == b.patches); XCTAssertEqual(a.labels, b.labels); XCTAssertEqual(a.paths, b.paths)
        var st = stat(); stat(base + "/merged/shard-00000.h5", &st)
        XCTAssertGreaterThanOrEqual(st.st_nlink, 2, "merge should hard-link shards, not copy them")
    }

    func testFailOnErrorAndMaxSkipFraction() throws {
        let input = try Self.mixedFolder()
        let base = (input as NSString).deletingLastPathComponent
        var o = Self.options(input, base + "/fail")
        o.onError = .fail
        XCTAssertThrowsError(try Prep.run(o)) { e in
            // first bad file in order: beta/bomb.png
            XCTAssertTrue("\(e)".contains("beta/bomb.png") && "\(e)".contains("too_large"), "\(e)")
        }
        var m = Self.options(input, base + "/frac")
        m.maxSkipFraction = 0.2     // 7 of 21 skipped
        XCTAssertThrowsError(try Prep.run(m)) { XCTAssertTrue("\($0)".contains("--max-skip-fraction"), "\($0)") }
        XCTAssertFalse(FileUtil.exists(base + "/frac/index.json"))
        XCTAssertTrue(FileUtil.exists(base + "/frac/" + Prep.skippedFile))
        m.maxSkipFraction = 0.5
        m.out = base + "/frac2"
        XCTAssertEqual(try Prep.run(m).index.total, 14)
    }

    func testResizedOutputsAndGzip() throws {
        // 64 px, patch 8, gzip, stretch: shapes and attributes follow the settings.
        let input = TestSupport.tempDir() + "/flat"
        for f in ["jpeg/large400x300.jpg", "png/rgb16.png", "jpeg/gray.jpg"] { try Self.copy(Self.fx(f), input + "/" + (f as NSString).lastPathComponent) }
        let out = (input as NSString).deletingLastPathComponent + "/out"
        var o = Self.options(input, out, size: 64, patch: 8)
        o.compress = .gzip; o.image.policy = .stretch
        try Prep.run(o)
        let set = try ShardSet(out)
        XCTAssertFalse(set.labeled)
        XCTAssertEqual(set.geometry, PatchGeometry(imageSize: 64, patchSize: 8))
        let r = try set.read(shard: 0)
        XCTAssertEqual(r.labels, [-1, -1, -1])
        XCTAssertEqual(r.patches.count, 3 * 64 * 192)
        let f = try set.open(shard: 0)
        XCTAssertEqual(try f.stringAttribute("resize"), "stretch")
        try f.close()
        // gray.jpg decodes to equal R, G, B
        let gray = Array(r.patches[(0 * 64 * 192)..<(1 * 64 * 192)])
        var colored = 0
        for i in stride(from: 0, to: gray.count, by: 3) where gray[i] != gray[i + 1] || gray[i] != gray[i + 2] { colored += 1 }
        XCTAssertEqual(colored, 0)
    }

    func testClassNamesFromAnotherSplit() throws {
        let base = TestSupport.tempDir()
        try Self.copy(Self.fx("cifar10/test/cat"), base + "/sub/cat")
        try Self.copy(Self.fx("cifar10/test/truck"), base + "/sub/truck")
        var t = Self.options(Self.fx("cifar10/train"), base + "/train")
        try Prep.run(t)
        t.input = base + "/sub"; t.out = base + "/sub-out"
        t.classNames = try ImageFolder.loadClassNames(base + "/train/index.json"); t.classNamesSource = base + "/train/index.json"
        try Prep.run(t)
        let idx = try ShardIndex.load(base + "/sub-out").index
        XCTAssertEqual(idx.classNames.count, 10)
        XCTAssertEqual(Set(try Self.contents(base + "/sub-out").labels), [3, 9])   // cat = 3, truck = 9, as in train
        try Self.copy(Self.fx("cifar10/test/cat"), base + "/sub/kitten")
        t.out = base + "/sub-out2"
        XCTAssertThrowsError(try Prep.run(t)) { XCTAssertTrue("\($0)".contains("'kitten' is not in the --class-names"), "\($0)") }
    }

}
