import Foundation
import XCTest
@testable import Ldae

/// One kernel path: the plan that takes it, named for messages.
struct KernelPath: CustomStringConvertible {
    let plan: ExecutionPlan
    var description: String { plan.usesFastKernels ? "fast" : "portable" }
}

/// Shared helpers for tests: temporary folders, synthetic shards, the fixture folder, Debian's python3.
enum TestSupport {
    /// The fast path (AVX2+FMA C kernels) first where this CPU has it, then the portable one.
    static var kernelPaths: [KernelPath] {
        (FastKernels.available ? [true, false] : [false]).map { KernelPath(plan: ExecutionPlan(fastKernels: $0)) }
    }

    /// One folder per test process holding every test's temporary folder; removed when the process exits
    /// (set LDAE_KEEP_TEST_DIRS=1 to keep it for debugging; its path is printed then).
    static let runRoot: String = {
        let root = NSTemporaryDirectory() + "ldae-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if ProcessInfo.processInfo.environment["LDAE_KEEP_TEST_DIRS"] == "1" {
            print("test folders kept under \(root)")
        } else {
            atexit { try? FileManager.default.removeItem(atPath: TestSupport.runRoot) }
        }
        return root
    }()

    static func tempDir(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let d = runRoot + "/\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static var fixtures: String { Bundle.module.resourcePath! + "/Fixtures" }

    /// `count` unlabeled images [S, S, 3] of uniform random bytes (RNG(seed)), and their shards of `perShard` images.
    static func randomShards(dir: String, count: Int, seed: UInt64, imageSize: Int, patchSize: Int,
                             perShard: Int) throws -> (set: ShardSet, images: [[UInt8]]) {
        var rng = RNG(seed: seed)
        let images = (0..<count).map { _ in (0..<(imageSize * imageSize * 3)).map { _ in UInt8(rng.below(256)) } }
        let set = try makeShards(dir: dir, images: images, labels: [Int32](repeating: -1, count: count), imageSize: imageSize,
                                 patchSize: patchSize, perShard: perShard)
        return (set, images)
    }

    /// Writes a shard folder (one or more shards + index.json) from synthetic images [N, S, S, 3].
    @discardableResult
    static func makeShards(dir: String, images: [[UInt8]], labels: [Int32], imageSize: Int, patchSize: Int,
                           classNames: [String] = [], perShard: Int = 1_000_000) throws -> ShardSet {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let g = PatchGeometry(imageSize: imageSize, patchSize: patchSize)
        var shards: [ShardIndex.Shard] = []
        var start = 0, k = 0
        while start < images.count {
            let end = min(images.count, start + perShard)
            var patches: [UInt8] = []
            for i in start..<end { patches += g.patchify(images[i]) }
            let file = ShardFormat.fileName(k)
            shards.append(try ShardWriter.entry(dir, file: file, options: .init(geometry: g), patches: patches,
                                                labels: Array(labels[start..<end]), paths: (start..<end).map { "img\($0).png" },
                                                classNames: classNames))
            start = end; k += 1
        }
        let idx = ShardIndex(imageSize: imageSize, patchSize: patchSize, channels: 3, resize: "crop", labeled: !classNames.isEmpty,
                             classNames: classNames, shards: shards, settings: [:], skippedCounts: [:], skipped: [])
        try idx.save(dir: dir)
        return try ShardSet(dir)
    }

    /// Debian's python3 with h5py and numpy, or nil (tests that need it are skipped).
    static var pythonWithH5py: String? {
        for p in ["/usr/bin/python3", "/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: p)
            proc.arguments = ["-c", "import h5py, numpy"]
            proc.standardError = FileHandle.nullDevice
            try? proc.run(); proc.waitUntilExit()
            if proc.terminationStatus == 0 { return p }
        }
        return nil
    }

    /// The repository (this file is Tests/LdaeTests/Support/TestSupport.swift).
    static var repo: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs tools/ref_encoder.py (numpy reimplementation of timm's ViT forward) on the zoo entry `entryDir` and
    /// `shards`, and compares with `features` (.npy written by `ldae-zoo features`), both expected [n, width].
    /// Returns (max |ldae - reference|, mean |reference|).
    static func compareWithRefEncoder(_ py: String, entryDir: String, shards: String, features: String,
                                      n: Int, width: Int) throws -> (maxDiff: Double, meanAbs: Double) {
        let ref = features + ".ref.npy"
        _ = try runPython(py, """
            import runpy, sys
            sys.argv = ["ref_encoder.py", sys.argv[1], sys.argv[2], "--out", sys.argv[3]]
            runpy.run_path("\(repo)/tools/ref_encoder.py", run_name="__main__")
            """, args: [entryDir, shards, ref])
        let out = try runPython(py, """
            import numpy as np, sys
            a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
            assert a.shape == b.shape == (int(sys.argv[3]), int(sys.argv[4])), (a.shape, b.shape)
            print(float(np.abs(a - b).max()), float(np.abs(b).mean()))
            """, args: [features, ref, String(n), String(width)])
        let parts = out.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard parts.count == 2 else { throw LdaeError("unexpected output of the reference comparison: \(out)") }
        return (parts[0], parts[1])
    }

    /// Runs a python script, returns stdout; fails the test on a non-zero exit.
    static func runPython(_ python: String, _ script: String, args: [String] = []) throws -> String {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: python)
        proc.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        proc.standardOutput = out; proc.standardError = err
        try proc.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        if proc.terminationStatus != 0 {
            throw LdaeError("python failed: \(String(decoding: e, as: UTF8.self))")
        }
        return String(decoding: o, as: UTF8.self)
    }

    /// Path of a built executable (ldae-prep, ...) next to the test bundle.
    static func executable(_ name: String) -> String {
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Runs an executable, returning (exit status, stdout, stderr).
    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: executable(exe))
        proc.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        proc.environment = e
        let out = Pipe(), err = Pipe()
        proc.standardOutput = out; proc.standardError = err
        try proc.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let er = err.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        return (proc.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: er, as: UTF8.self))
    }
}

/// A run and what publishing made of it.
@dynamicMemberLookup
struct PublishedRun {
    let result: TrainResult
    let published: (version: Int, path: String)?
    subscript<T>(dynamicMember k: KeyPath<TrainResult, T>) -> T { result[keyPath: k] }
}

extension Trainer {
    /// `run`, then what `ldae-train` does next with a finished run when `options.publish` is on: publish it once.
    func runPublishing() throws -> PublishedRun {
        let r = try run()
        guard r.stop == .finished && options.publish else { return PublishedRun(result: r, published: nil) }
        let p = try ZooPublisher.publishOnce(trainedRun(), folder: folder, store: ZooStore.resolve(options.zoo, environment: nil))
        return PublishedRun(result: r, published: (p.version, p.path))
    }

    /// Publishes this trained run again (a new version).
    func publish() throws -> (version: Int, path: String) {
        try ZooPublisher.publish(trainedRun(), store: ZooStore.resolve(options.zoo, environment: nil))
    }
}
