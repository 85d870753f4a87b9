import XCTest
@testable import Ldae

/// ldae-train as users run it (needs `swift build` first so the executable exists).
final class TrainCLITests: XCTestCase {
    func base(_ f: TrainFixture, _ name: String) -> [String] {
        ["--data", f.shards, "--pca", f.pca, "--config", "micro", "--name", name, "--batch-size", "4", "--lr", "0.01",
         "--out", f.dir + "/run-" + name, "--zoo", f.dir + "/zoo", "--threads", "1"]
    }

    func testErrorsAreOneLineAndNameTheFile() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-train")) else { throw XCTSkip("build ldae-train first") }
        let f = try TrainFixture(); defer { f.remove() }
        let p2 = try trainTestBasis(patchSize: 2, seed: 1)
        try p2.save(f.dir + "/p2.h5")
        var (st, _, err) = try TestSupport.run("ldae-train", base(f, "x").map { $0 == f.pca ? f.dir + "/p2.h5" : $0 } + ["--epochs", "1"])
        XCTAssertEqual(st, 1); XCTAssertTrue(err.hasPrefix("ldae-train: error: ") && err.contains("p2.h5") && err.contains("patch_size"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "x") + ["--resume"])
        XCTAssertEqual(st, 1); XCTAssertTrue(err.contains("checkpoint.safetensors") && err.contains("no checkpoint"), err)
        try JSON.write({ var c = ModelPreset.micro.config; c.imageSize = 8; c.encoderHeads = 3; return c }(), to: f.dir + "/bad.json")
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "x").map { $0 == "micro" ? f.dir + "/bad.json" : $0 })
        XCTAssertEqual(st, 1); XCTAssertTrue(err.contains("bad.json") && err.contains("divisible"), err)
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "x") + ["--schedul", "ddpm"])
        XCTAssertEqual(st, 2); XCTAssertTrue(err.contains("unknown option --schedul"), err)
        (st, _, err) = try TestSupport.run("ldae-train", base(f, "x") + ["--batch-size", "100"])
        XCTAssertEqual(st, 1); XCTAssertTrue(err.contains("fewer than one batch"), err)
        let (hs, hout, _) = try TestSupport.run("ldae-train", ["--help"])
        XCTAssertEqual(hs, 0); XCTAssertTrue(hout.contains("--resume"))
    }

    func testSigintCheckpointsThenResumeAndPublish() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-train")) else { throw XCTSkip("build ldae-train first") }
        let f = try TrainFixture(); defer { f.remove() }
        let out = f.dir + "/run-s"
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: TestSupport.executable("ldae-train"))
        proc.arguments = base(f, "s") + ["--steps", "1000000", "--checkpoint-every", "0"]
        let errPipe = Pipe()
        proc.standardError = errPipe; proc.standardOutput = FileHandle.nullDevice
        try proc.run()
        // wait until a few steps are logged, then interrupt
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: out + "/train_log.jsonl", encoding: .utf8), s.split(separator: "\n").count >= 3 { break }
            usleep(20_000)
        }
        kill(proc.processIdentifier, SIGINT)
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        proc.waitUntilExit()
        XCTAssertEqual(proc.terminationStatus, 130, err)
        XCTAssertTrue(err.contains("interrupted by SIGINT") && err.contains("--resume"), err)
        let (_, _, meta) = try Safetensors.read(out + "/" + Checkpoint.fileName)
        let done = Int(meta["step"] ?? "") ?? -1
        XCTAssertGreaterThanOrEqual(done, 3)
        let logLines = try String(contentsOfFile: out + "/train_log.jsonl", encoding: .utf8).split(separator: "\n").count
        XCTAssertEqual(logLines, done)
        // resume for two more steps, then stop (checkpointed)
        let (st, so, se) = try TestSupport.run("ldae-train", base(f, "s") + ["--steps", "1000000", "--checkpoint-every", "0", "--resume", "--stop-after", "\(done + 2)", "--quiet"])
        XCTAssertEqual(st, 0, se); XCTAssertTrue(so.contains("stopped after step \(done + 2)"), so)
        // a complete short run publishes
        let (ps, pout, perr) = try TestSupport.run("ldae-train", base(f, "p") + ["--epochs", "1", "--quiet", "--weights-dtype", "f16"])
        XCTAssertEqual(ps, 0, perr)
        XCTAssertTrue(pout.contains("published p@v1"), pout)
        let (m, dir) = try ZooStore(root: f.dir + "/zoo").load("p")
        XCTAssertEqual(m.weightsDtype, "f16"); XCTAssertEqual(m.steps, 6)
        XCTAssertTrue(FileUtil.exists(dir + "/loss_curve.png"))
    }
}
