import Foundation
import XCTest
@testable import Ldae

/// Writing output on full and read-only file systems (tmpfs mounts; the tests skip where mounting is not
/// allowed), concurrent writers, impossible sizes.
final class OutputSafetyTests: XCTestCase {
    private var mounts: [String] = []

    override func tearDown() {
        for m in mounts.reversed() { _ = Self.sh("/bin/umount", ["-l", m]) }
        mounts = []
        super.tearDown()
    }

    @discardableResult
    static func sh(_ exe: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return (-1, "\(error)") }
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    /// A fresh tmpfs of `size` (e.g. "5m") mounted on a new folder; `readOnly` remounts it read-only after
    /// creating `out/` inside. Skips the test when mounting fails (not root, no mount namespace).
    func tmpfs(_ size: String, readOnly: Bool = false) throws -> String {
        let dir = TestSupport.tempDir("mnt")
        let (rc, err) = Self.sh("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir])
        guard rc == 0 else { throw XCTSkip("cannot mount a tmpfs for a full-disk test (needs root): \(err.trimmingCharacters(in: .whitespacesAndNewlines))") }
        mounts.append(dir)
        if readOnly {
            try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
            let (rc2, err2) = Self.sh("/bin/mount", ["-o", "remount,ro", dir])
            guard rc2 == 0 else { throw XCTSkip("cannot remount the tmpfs read-only: \(err2)") }
        }
        return dir
    }

    /// Fills the file system holding `dir` (a filler file grown until ENOSPC).
    static func fill(_ dir: String) {
        let fd = open(dir + "/filler", O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        let block = [UInt8](repeating: 1, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress!, 4096) }) > 0 {}
    }

    static func oneLine(_ s: String) -> Bool { s.split(separator: "\n").count == 1 }

    static var cifarTrain: String { TestSupport.fixtures + "/cifar10/train" }

    func testFullDiskDuringPrepIsOneLineNamingTheShard() throws {
        let mnt = try tmpfs("5m")
        // 200 images at 96 px are 5.5 MB of patches: the first shard does not fit.
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", Self.cifarTrain, "--out", mnt + "/shards", "--size", "96", "--quiet"])
        XCTAssertEqual(rc, 1, "expected a clean failure, got status \(rc): \(err)")
        XCTAssertTrue(Self.oneLine(err), err)
        XCTAssertTrue(err.hasPrefix("ldae-prep: error: \(mnt)/shards/shard-00000.h5: "), err)
        XCTAssertTrue(err.contains("No space left on device"), err)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: mnt + "/shards")) ?? []
        XCTAssertFalse(left.contains { $0.contains(".tmp-") }, "temporary files left: \(left)")
    }

    func testFullDiskWritingAnHDF5FileInProcessThrowsAndTheLibraryStaysUsable() throws {
        let mnt = try tmpfs("1m")
        Self.fill(mnt)
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        let patches = [UInt8](repeating: 7, count: 600 * g.valuesPerImage)
        XCTAssertThrowsError(try ShardWriter.write(mnt + "/s.h5", options: .init(geometry: g), patches: patches,
                                                   labels: [Int32](repeating: 0, count: 600), paths: (0..<600).map { "p\($0)" },
                                                   classNames: ["a"])) { e in
            XCTAssertEqual("\(e)", "\(mnt)/s.h5: cannot write (No space left on device)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mnt), ["filler"])
        // HDF5 still works in this process (and exits cleanly at the end of the test run).
        let ok = TestSupport.tempDir() + "/ok.h5"
        try ShardWriter.write(ok, options: .init(geometry: g), patches: Array(patches[0..<g.valuesPerImage]), labels: [0], paths: ["p"], classNames: ["a"])
        XCTAssertEqual(try H5File.open(ok).intAttribute("image_size"), 8)
    }

    func testFullDiskWritingPCAIsOneLine() throws {
        let dir = TestSupport.tempDir()
        _ = try PCACommandTests.shards(dir + "/shards")
        let mnt = try tmpfs("1m")
        Self.fill(mnt)
        let (rc, _, err) = try TestSupport.run("ldae-fit-pca", [dir + "/shards", "--out", mnt + "/pca.h5", "--no-figures"])
        XCTAssertEqual(rc, 1, err)
        let lines = err.split(separator: "\n").filter { $0.hasPrefix("ldae-fit-pca: error") }
        XCTAssertEqual(lines, ["ldae-fit-pca: error: \(mnt)/pca.h5: cannot write (No space left on device)"], err)
    }

    func testFoundationFileErrorsBecomeOneLineWithFileAndReason() throws {
        let mnt = try tmpfs("1m")
        Self.fill(mnt)
        let src = TestSupport.tempDir() + "/big"
        XCTAssertTrue(FileManager.default.createFile(atPath: src, contents: Data(repeating: 3, count: 200_000)))
        XCTAssertThrowsError(try FileManager.default.copyItem(atPath: src, toPath: mnt + "/copy")) { e in
            let line = errorLine(e)
            XCTAssertTrue(Self.oneLine(line), line)
            XCTAssertTrue(line.contains(mnt + "/copy") && line.contains("No space left on device"), line)
            XCTAssertFalse(line.contains("NSCocoaErrorDomain"), line)
        }
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 1, count: 100_000), to: mnt + "/x.json")) { e in
            XCTAssertEqual("\(e)", "\(mnt)/x.json: cannot write (No space left on device)")
        }
    }

    func testReadOnlyOutputIsOneLine() throws {
        let mnt = try tmpfs("1m", readOnly: true)
        for out in [mnt + "/out", mnt + "/new"] {
            let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", Self.cifarTrain, "--out", out, "--quiet"])
            XCTAssertEqual(rc, 1, err)
            XCTAssertTrue(Self.oneLine(err), err)
            XCTAssertTrue(err.hasPrefix("ldae-prep: error: \(out)"), err)
            XCTAssertTrue(err.contains("Read-only file system"), err)
            XCTAssertFalse(err.contains(".tmp-") || err.contains("HDF5"), err)
        }
    }

    // MARK: one writer per output

    func testASecondWriterOfAnOutputFailsAtOnceWithOneLine() throws {
        let base = TestSupport.tempDir()
        let out = base + "/shards"
        let held = try FolderLock.acquire(out, command: "test-holder")
        XCTAssertThrowsError(try FolderLock.acquire(out, command: "second")) { e in
            XCTAssertTrue("\(e)".contains("is being written by test-holder (pid \(getpid()))"), "\(e)")
        }
        let t0 = Date()
        let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", Self.cifarTrain, "--out", out, "--quiet"])
        XCTAssertEqual(rc, 1, err)
        XCTAssertTrue(Self.oneLine(err), err)
        XCTAssertTrue(err.hasPrefix("ldae-prep: error: \(out): is being written by test-holder"), err)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 20, "the second writer must fail before doing the work")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [FolderLock.defaultName])
        _ = try PCACommandTests.shards(base + "/small")
        let (rc2, _, err2) = try TestSupport.run("ldae-prep", ["merge", base + "/small", "--out", out])
        XCTAssertEqual(rc2, 1, err2)
        XCTAssertTrue(err2.hasPrefix("ldae-prep: error: \(out): is being written by test-holder"), err2)
        // ldae-fit-pca locks its output file's own lock
        let pcaLock = try FolderLock.acquire(base, command: "test-holder", name: ".pca.h5.lock")
        let (rc3, _, err3) = try TestSupport.run("ldae-fit-pca", [base + "/small", "--out", base + "/pca.h5", "--no-figures"])
        XCTAssertEqual(rc3, 1, err3)
        XCTAssertTrue(err3.contains("ldae-fit-pca: error: \(base): is being written by test-holder"), err3)
        let (rc4, _, err4) = try TestSupport.run("ldae-fit-pca", [base + "/small", "--out", base + "/other.h5", "--no-figures"])
        XCTAssertEqual(rc4, 0, "another output in the same folder is not blocked: \(err4)")
        pcaLock.release()
        held.release()
        let (rc5, _, err5) = try TestSupport.run("ldae-prep", ["images", Self.cifarTrain, "--out", out, "--quiet"])
        XCTAssertEqual(rc5, 0, err5)
    }

    func testTwoPrepsStartedTogetherLeaveOneConsistentOutput() throws {
        let base = TestSupport.tempDir()
        let a = base + "/a", b = base + "/b"
        try PrepPipelineTests.copy(TestSupport.fixtures + "/cifar10/train/cat", a + "/cat")
        try PrepPipelineTests.copy(TestSupport.fixtures + "/cifar10/train/dog", b + "/dog")
        let procs = [a, b].map { input -> (Process, Pipe) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.executable("ldae-prep"))
            p.arguments = ["images", input, "--out", base + "/S", "--quiet", "--shard-size", "5", "--workers", "1"]
            let err = Pipe()
            p.standardError = err; p.standardOutput = FileHandle.nullDevice
            return (p, err)
        }
        for (p, _) in procs { try p.run() }
        var results: [(Int32, String)] = []
        for (p, e) in procs {
            let text = String(decoding: e.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            results.append((p.terminationStatus, text))
        }
        XCTAssertEqual(results.filter { $0.0 == 0 }.count, 1, "exactly one writer succeeds: \(results)")
        for (rc, text) in results where rc != 0 {
            XCTAssertEqual(rc, 1); XCTAssertTrue(Self.oneLine(text), text)
        }
        let set = try ShardSet(base + "/S")
        XCTAssertEqual(set.classNames.count, 1)
        let contents = try PrepPipelineTests.contents(base + "/S")   // reads (and verifies) every shard
        XCTAssertEqual(Set(contents.paths.map { $0.split(separator: "/")[0] }), [Substring(set.classNames[0])])
    }

    func testReadersRefuseAShardThatDoesNotMatchItsIndex() throws {
        let base = TestSupport.tempDir()
        let g = PatchGeometry(imageSize: 8, patchSize: 4)
        let img = { (v: UInt8) in [UInt8](repeating: v, count: 8 * 8 * 3) }
        try TestSupport.makeShards(dir: base + "/S", images: [img(1), img(2), img(3), img(4)], labels: [0, 0, 0, 0],
                                   imageSize: 8, patchSize: 4, classNames: ["a"], perShard: 2)
        // Another writer replaced shard 1 with one of the same size and count but other images.
        let other = base + "/other.h5"
        try ShardWriter.write(other, options: .init(geometry: g), patches: g.patchify(img(9)) + g.patchify(img(9)),
                              labels: [0, 0], paths: ["img2.png", "img3.png"], classNames: ["a"])
        let shard1 = base + "/S/" + ShardFormat.fileName(1)
        XCTAssertEqual(FileUtil.size(other), FileUtil.size(shard1))
        XCTAssertEqual(rename(other, shard1), 0)
        let set = try ShardSet(base + "/S")
        XCTAssertEqual(try set.read(shard: 0).patches, g.patchify(img(1)) + g.patchify(img(2)))
        XCTAssertThrowsError(try set.read(shard: 1)) { e in
            XCTAssertTrue("\(e)".hasPrefix(shard1 + ": shard does not match its index.json"), "\(e)")
        }
        XCTAssertThrowsError(try set.forEachBatch(3) { _, _, _ in })
        // A truncated (or appended-to) shard is refused when the set is opened.
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: shard1))
        h.seekToEndOfFile(); h.write(Data([0])); try h.close()
        XCTAssertThrowsError(try ShardSet(base + "/S")) { e in
            XCTAssertTrue("\(e)".hasPrefix(shard1 + ": shard is "), "\(e)")
        }
    }

    // MARK: impossible sizes

    func testImpossibleSizesAreRefusedUpFrontAndCreateNothing() throws {
        let base = TestSupport.tempDir()
        let cases: [([String], String)] = [
            (["--size", "100000", "--patch", "4"], "above ldae-prep's limit of 4096"),
            (["--size", "8192", "--patch", "16"], "above ldae-prep's limit of 4096"),
            (["--size", "4000000000", "--patch", "4"], "above ldae-prep's limit of 4096"),
            (["--size", "4096", "--patch", "16", "--shard-size", "100000000"], "half this machine's memory"),
        ]
        for (i, (args, message)) in cases.enumerated() {
            let out = base + "/out\(i)"
            let t0 = Date()
            let (rc, _, err) = try TestSupport.run("ldae-prep", ["images", Self.cifarTrain, "--out", out] + args)
            XCTAssertEqual(rc, 2, "\(args): \(err)")
            XCTAssertTrue(err.hasPrefix("ldae-prep: --size") && err.contains(message), "\(args): \(err)")
            XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "\(args)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(args) created \(out)")
        }
        // the library refuses too, before creating anything
        var o = PrepPipelineTests.options(Self.cifarTrain, base + "/lib", size: 4096, patch: 16)
        o.shardSize = 1 << 40
        XCTAssertThrowsError(try Prep.run(o)) { e in XCTAssertTrue("\(e)".contains("needs about"), "\(e)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/lib"))
        XCTAssertEqual(Prep.memoryNeeded(imageSize: 32, shardSize: 10_000, batch: 1024, workers: 2), (20_000 + 1024 + 2) * 3072)
    }
}
