import XCTest
@testable import Ldae

/// Data-parallel training as users launch it: `mpirun -np 2 ldae-train ...` against one process at the same global
/// batch and seed (needs `swift build` and Open MPI's mpirun, which tools/setup installs).
///
/// Tolerance: the ranks' gradients are summed in another order than one process sums its batch, and the objective's
/// PCA products run on fewer rows per call, so the results agree to float rounding, not bit for bit. Measured on
/// the micro config over 20 steps at base lr 0.01 (AMD EPYC, AVX2, 2026-12-02): losses within 1.0e-7 relative,
/// weights within 2.1e-5 absolute (AdamW's normalised steps let rounding grow in the weights). Asserted with margin:
/// losses 1e-4 relative, weights 5e-4 absolute. Skipping nothing of the noise stream (a rank drawing image 0's noise
/// for its first image) gave 6e-2 and 4e-3: the bounds tell a right run from a wrong one.
final class MPITrainTests: XCTestCase {
    static let mpirun = "/usr/bin/mpirun"
    static let lossTolerance = 1e-4
    static let weightTolerance: Float = 5e-4

    func base(_ f: TrainFixture, _ name: String, batch: Int = 4) -> [String] {
        ["--data", f.shards, "--pca", f.pca, "--config", "micro", "--name", name, "--batch-size", "\(batch)", "--lr", "0.01",
         "--out", f.dir + "/run-" + name, "--zoo", f.dir + "/zoo", "--threads", "1", "--steps", "20"]
    }

    /// mpirun's own options: root allowed (CI runs as root), more ranks than cores allowed, shared memory only.
    static let mpiOptions = ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader",
                             "--mca", "btl_vader_single_copy_mechanism", "none"]

    func requireMPI() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-train")) else { throw XCTSkip("build ldae-train first") }
        // tools/setup installs Open MPI: on a machine set up by it this never fails
        guard FileManager.default.isExecutableFile(atPath: Self.mpirun) else {
            XCTFail("\(Self.mpirun) is missing: run tools/setup (installs openmpi-bin and libopenmpi-dev)")
            throw XCTSkip("no mpirun")
        }
    }

    /// Runs `mpirun <options> -np n ldae-train args` (or an MPMD line when `args2` is given: rank 1 gets args2).
    @discardableResult
    func mpirun(_ n: Int, _ args: [String], args2: [String]? = nil) throws -> (Int32, String, String) {
        let exe = TestSupport.executable("ldae-train")
        var a = Self.mpiOptions
        if let args2 { a += ["-np", "1", exe] + args + [":", "-np", "1", exe] + args2 } else { a += ["-np", "\(n)", exe] + args }
        return try Self.runPath(Self.mpirun, a)
    }

    static func runPath(_ path: String, _ args: [String]) throws -> (Int32, String, String) {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: path)
        proc.arguments = args
        let out = Pipe(), err = Pipe()
        proc.standardOutput = out; proc.standardError = err
        try proc.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        return (proc.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func losses(_ run: String) throws -> [Double] {
        let text = try String(contentsOfFile: run + "/train_log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSON.decode(TrainLogLine.self, from: Data($0.utf8), file: run).loss }
    }

    func weights(_ run: String) throws -> (step: Int, values: [String: [Float]]) {
        let (t, _, meta) = try Safetensors.read(run + "/" + Checkpoint.fileName)
        return (Int(meta["step"] ?? "") ?? -1, t.mapValues(\.values))
    }

    func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        print("MPITrainTests: \(what): largest loss difference \(worst) (relative)")
        for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > Self.lossTolerance * max(1, abs(y)) {
            XCTFail("\(what): step \(i) loss \(x) vs \(y)", file: file, line: line); return
        }
    }

    func maxWeightDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var m: Float = 0
        for (k, v) in a { guard let w = b[k], w.count == v.count else { return .infinity }; for i in v.indices { m = max(m, abs(v[i] - w[i])) } }
        print("MPITrainTests: largest weight difference \(m)")
        return m
    }

    /// 2 ranks at global batch 4 (2 images each) = 1 process at batch 4: the same losses and final weights over
    /// 20 steps, and rank 0 alone publishes.
    func testTwoRanksMatchOneProcess() throws {
        try requireMPI()
        let f = try TrainFixture(); defer { f.remove() }
        var (st, out, err) = try TestSupport.run("ldae-train", base(f, "one") + ["--quiet", "--no-publish"])
        XCTAssertEqual(st, 0, err)
        (st, out, err) = try mpirun(2, base(f, "two"))
        XCTAssertEqual(st, 0, err)
        XCTAssertEqual(out.components(separatedBy: "published two@v1").count - 1, 1, "rank 0 alone publishes: \(out)")
        XCTAssertEqual(err.components(separatedBy: "ldae-train: two:").count - 1, 1, "rank 0 alone prints the header: \(err)")
        let l1 = try losses(f.dir + "/run-one"), l2 = try losses(f.dir + "/run-two")
        XCTAssertEqual(l1.count, 20)
        assertClose(l2, l1, "2 ranks vs 1 process")
        XCTAssertNotEqual(l1.first, l1.last, "the loss moved (the comparison is not of a run that does nothing)")
        let w1 = try weights(f.dir + "/run-one"), w2 = try weights(f.dir + "/run-two")
        XCTAssertEqual(w1.step, 20); XCTAssertEqual(w2.step, 20)
        XCTAssertLessThanOrEqual(maxWeightDifference(w1.values, w2.values), Self.weightTolerance)
        let (m, dir) = try ZooStore(root: f.dir + "/zoo").load("two")
        XCTAssertTrue(FileUtil.exists(dir + "/loss_curve.png"))
        // the provenance says 2 ranks x 1 thread, and the CPU time is the sum over both ranks
        let p = try XCTUnwrap(m.provenance)
        XCTAssertEqual(p.worldSize, 2); XCTAssertEqual(p.threadsPerRank, 1); XCTAssertEqual(p.ranksByThreads, "2 x 1")
        XCTAssertEqual(p.launcher, "mpirun")
        XCTAssertEqual(p.cpuSecondsPerRank.count, 2)
        XCTAssert(p.cpuSecondsPerRank.allSatisfy { $0 > 0 }, "\(p.cpuSecondsPerRank)")
        XCTAssertEqual(p.cpuSecondsTotal, p.cpuSecondsPerRank.reduce(0, +), accuracy: 1e-6)
        XCTAssertEqual(p.cpuSecondsTotal, m.trainCpuSeconds ?? -1, accuracy: 1e-6)
        XCTAssertTrue(p.commandLine.hasPrefix("ldae-train --data ") && p.commandLine.contains("--name two"), p.commandLine)
        let card = try String(contentsOfFile: dir + "/README.md", encoding: .utf8)
        XCTAssertTrue(card.contains("2 processes x 1 thread") && card.contains("launcher mpirun"), card)
        let (_, show, _) = try TestSupport.run("ldae-zoo", ["show", "two", "--zoo", f.dir + "/zoo"])
        XCTAssertTrue(show.contains("2 x 1 (ranks x threads)") && show.contains("CPU-minutes over every process"), show)
        // a different global batch is a different run: the comparison above can tell runs apart
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "b8", batch: 8) + ["--quiet", "--no-publish"])
        XCTAssertEqual(st, 0, err)
        XCTAssertGreaterThan(abs(try losses(f.dir + "/run-b8")[1] - l1[1]), Self.lossTolerance)
    }

    /// A 2-rank run whose rank 1 is killed (SIGKILL) mid-run: mpirun ends the job naming the rank and the signal,
    /// the last checkpoint is intact, and `--resume` on 2 ranks (and then on 1) finishes with the weights of an
    /// uninterrupted single process (losses of every step and final weights).
    func testKilledRankThenResumeMatches() throws {
        try requireMPI()
        let f = try TrainFixture(); defer { f.remove() }
        var (st, _, err): (Int32, String, String)
        let run = f.dir + "/run-k"
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: Self.mpirun)
        proc.arguments = Self.mpiOptions + ["-np", "2", TestSupport.executable("ldae-train")]
            + base(f, "k").map { $0 == "20" ? "2000000" : $0 } + ["--checkpoint-every", "5", "--no-publish"]
        let errPipe = Pipe()
        proc.standardError = errPipe; proc.standardOutput = FileHandle.nullDevice
        try proc.run()
        // wait for the checkpoint of step 10, then kill rank 1 (a child of mpirun)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? weights(run))?.step ?? 0) < 10 { usleep(20_000) }
        let children = Self.children(of: proc.processIdentifier)
        XCTAssertEqual(children.count, 2, "mpirun's ranks: \(children)")
        if let victim = children.max() { kill(victim, SIGKILL) }
        let message = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        proc.waitUntilExit()
        XCTAssertNotEqual(proc.terminationStatus, 0)
        XCTAssertTrue(message.contains("signal 9") || message.contains("Killed"), message)
        print("MPITrainTests: the killed job said: \(message.split(separator: "\n").filter { $0.contains("rank") }.joined(separator: " | "))")
        let ck = try weights(run)
        XCTAssertTrue(ck.step >= 10 && ck.step % 5 == 0, "last checkpoint at step \(ck.step)")
        // resume on 2 ranks for 5 steps, then on 1 process for 5 more (the batch order does not depend on the ranks)
        let s = ck.step
        let k = base(f, "k").map { $0 == "20" ? "2000000" : $0 } + ["--checkpoint-every", "5", "--no-publish", "--resume"]
        (st, _, err) = try mpirun(2, k + ["--stop-after", "\(s + 5)"])
        XCTAssertEqual(st, 0, err)
        XCTAssertEqual(try weights(run).step, s + 5)
        (st, _, err) = try TestSupport.run("ldae-train", k + ["--stop-after", "\(s + 10)", "--quiet"])
        XCTAssertEqual(st, 0, err)
        // against one uninterrupted process of the same length (2,000,000 steps: the same learning-rate schedule)
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "k1").map { $0 == "20" ? "2000000" : $0 } + ["--stop-after", "\(s + 10)", "--quiet", "--no-publish"])
        XCTAssertEqual(st, 0, err)
        let a = try weights(run), b = try weights(f.dir + "/run-k1")
        XCTAssertEqual(a.step, s + 10); XCTAssertEqual(b.step, s + 10)
        XCTAssertLessThanOrEqual(maxWeightDifference(a.values, b.values), Self.weightTolerance)
        assertClose(try losses(run), try losses(f.dir + "/run-k1"), "killed, resumed on 2 ranks then 1, vs 1 process")
    }

    /// Bad use ends with one line naming the cause, from one rank, and writes nothing.
    func testBadUseIsOneClearLine() throws {
        try requireMPI()
        let f = try TrainFixture(); defer { f.remove() }
        // a global batch that the ranks cannot share
        var (st, _, err) = try mpirun(2, base(f, "odd", batch: 5))
        XCTAssertNotEqual(st, 0)
        let lines = err.split(separator: "\n").filter { $0.hasPrefix("ldae-train") }
        XCTAssertEqual(lines.count, 1, err)
        XCTAssertTrue(err.contains("--batch-size 5") && err.contains("not divisible by the 2 ranks"), err)
        XCTAssertFalse(FileUtil.exists(f.dir + "/run-odd/" + Checkpoint.fileName))
        // ranks that see different shard sets (an MPMD launch: rank 1 gets a copy with one image fewer)
        let other = f.dir + "/other"
        var rng = RNG(seed: 7)
        let imgs = (0..<23).map { _ in (0..<(8 * 8 * 3)).map { _ in UInt8(rng.below(256)) } }
        _ = try TestSupport.makeShards(dir: other, images: imgs, labels: [Int32](repeating: -1, count: 23), imageSize: 8, patchSize: 4, perShard: 10)
        (st, _, err) = try mpirun(2, base(f, "mix"), args2: base(f, "mix").map { $0 == f.shards ? other : $0 })
        XCTAssertNotEqual(st, 0)
        XCTAssertEqual(err.split(separator: "\n").filter { $0.hasPrefix("ldae-train") }.count, 1, err)
        XCTAssertTrue(err.contains("rank 1 of 2") && err.contains("different shard set"), err)
        XCTAssertFalse(FileUtil.exists(f.dir + "/run-mix/" + Checkpoint.fileName))
        // a setup error on every rank (a missing PCA file) is printed once
        (st, _, err) = try mpirun(2, base(f, "nopca").map { $0 == f.pca ? f.dir + "/missing.h5" : $0 })
        XCTAssertEqual(st, 1, err)
        XCTAssertEqual(err.split(separator: "\n").filter { $0.hasPrefix("ldae-train") }.count, 1, err)
        XCTAssertTrue(err.contains("missing.h5"), err)
    }

    /// The process ids whose parent is `pid` (mpirun starts the local ranks itself).
    static func children(of pid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }
}
