import Foundation
import XCTest
@testable import Ldae

/// What a fresh clone runs: ldae-prep -> ldae-train (a tiny parent) -> ldae-zoo finetune -> predict -> eval -> export
/// on the 300-image CIFAR-10 sample, the outputs' formats, interrupt and resume, the command-line errors, and the timm
/// check where a Python with torch and timm exists.
final class FinetuneCLITests: XCTestCase {
    struct Sample {
        let dir: String, train: String, test: String, zoo: String
        /// The fixture's train (200) and test (100) images as shards, and a micro parent trained for 10 steps.
        init() throws {
            dir = TestSupport.tempDir("finetunecli")
            train = dir + "/train"; test = dir + "/test"; zoo = dir + "/zoo"
            let fx = TestSupport.fixtures + "/cifar10"
            var (s, _, e) = try TestSupport.run("ldae-prep", ["images", fx + "/train", "--out", train, "--size", "32", "--patch", "4", "--quiet"])
            guard s == 0 else { throw LdaeError("ldae-prep failed: \(e)") }
            (s, _, e) = try TestSupport.run("ldae-prep", ["images", fx + "/test", "--out", test, "--size", "32", "--patch", "4", "--quiet",
                                                          "--class-names", train + "/index.json"])
            guard s == 0 else { throw LdaeError("ldae-prep failed: \(e)") }
            (s, _, e) = try TestSupport.run("ldae-train", ["--data", train, "--tokenizer", "pixel", "--config", "micro", "--steps", "10",
                                                           "--batch-size", "32", "--name", "parent", "--zoo", zoo, "--out", dir + "/run-parent",
                                                           "--val-fraction", "0.2", "--threads", "2", "--quiet"])
            guard s == 0 else { throw LdaeError("ldae-train failed: \(e)") }
        }
        var z: [String] { ["--zoo", zoo] }
    }

    func requireBinaries() throws {
        for b in ["ldae-prep", "ldae-train", "ldae-zoo"] where !FileManager.default.isExecutableFile(atPath: TestSupport.executable(b)) {
            throw XCTSkip("build \(b) first (swift build)")
        }
    }

    func testFinetunePredictEvalExportOnTheCifarSample() throws {
        try requireBinaries()
        let s = try Sample()
        var (st, out, err) = try TestSupport.run("ldae-zoo", ["finetune", "parent", "--train", s.train, "--name", "cls", "--epochs", "3",
                                                              "--batch-size", "32", "--lr", "2e-3", "--threads", "2", "--out", s.dir + "/run-cls", "--quiet"] + s.z)
        XCTAssertEqual(st, 0, err)
        XCTAssertTrue(out.contains("published cls@v1") && out.contains("validation top-1"), out)
        (st, out, err) = try TestSupport.run("ldae-zoo", ["verify", "cls"] + s.z)
        XCTAssertEqual(st, 0, err)
        // predict: a folder with good and bad files, a file list with a missing path; CSV
        let imgs = s.dir + "/imgs"
        try FileManager.default.createDirectory(atPath: imgs, withIntermediateDirectories: true)
        for (src, dst) in [("cifar10/test/cat/0000.jpg", "a.jpg"), ("cifar10/test/ship/0001.jpg", "b.jpg"), ("bad/truncated.jpg", "c.jpg"), ("bad/notes.txt", "d.txt")] {
            try FileManager.default.copyItem(atPath: TestSupport.fixtures + "/" + src, toPath: imgs + "/" + dst)
        }
        try "\(TestSupport.fixtures)/cifar10/test/dog/0002.jpg\n# a comment\n\(s.dir)/missing.png\n".write(toFile: s.dir + "/list.txt", atomically: true, encoding: .utf8)
        (st, out, err) = try TestSupport.run("ldae-zoo", ["predict", "cls", imgs, "--list", s.dir + "/list.txt", "--out", s.dir + "/p.csv",
                                                          "--top-k", "3", "--batch", "2", "--threads", "2"] + s.z)
        XCTAssertEqual(st, 0, err)
        XCTAssertTrue(out.contains("classified 3 of 6 images"), out)
        XCTAssertTrue(err.contains("c.jpg") && err.contains("d.txt") && err.contains("missing.png"), err)
        let rows = try String(contentsOfFile: s.dir + "/p.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows[0], ["path", "true_label", "label_1", "prob_1", "label_2", "prob_2", "label_3", "prob_3", "error"])
        XCTAssertEqual(rows.count, 7)
        let classes = try ZooStore(root: s.zoo).load("cls").manifest.classifier!.classNames
        for r in rows.dropFirst() {
            XCTAssertEqual(r.count, 9, "\(r)")
            if r[8].isEmpty {
                let p = [r[3], r[5], r[7]].map { Double($0)! }
                XCTAssertTrue(p[0] >= p[1] && p[1] >= p[2] && p.reduce(0, +) <= 1 + 1e-6, "\(r)")
                XCTAssertTrue(classes.contains(r[2]) && classes.contains(r[4]), "\(r)")
            } else {
                XCTAssertTrue(r[2...7].allSatisfy(\.isEmpty), "\(r)")
            }
        }
        XCTAssertEqual(Set(rows.dropFirst().filter { !$0[8].isEmpty }.map { URL(fileURLWithPath: $0[0]).lastPathComponent }), ["c.jpg", "d.txt", "missing.png"])
        XCTAssertTrue(rows.contains { $0[0].hasSuffix("c.jpg") && $0[8].hasPrefix("truncated") }, "\(rows)")
        // predict on shards: .npy logits and the rows file
        (st, out, err) = try TestSupport.run("ldae-zoo", ["predict", "cls", s.test, "--out", s.dir + "/l.npy"] + s.z)
        XCTAssertEqual(st, 0, err)
        let hdr = try NPY.header(s.dir + "/l.npy")
        XCTAssertEqual(hdr.shape, [100, 10])
        let rowLines = try String(contentsOfFile: s.dir + "/l.rows.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rowLines.count, 101); XCTAssertEqual(rowLines[0], "path,row,true_label,error")
        XCTAssertTrue(rowLines[1].hasPrefix("airplane/0000.jpg,0,airplane,"), String(rowLines[1]))
        // eval: top-1, top-5, the confusion matrix figure, recorded; the card follows
        (st, out, err) = try TestSupport.run("ldae-zoo", ["eval", "cls", "--test", s.test, "--figures", s.dir + "/fig"] + s.z)
        XCTAssertEqual(st, 0, err)
        XCTAssertTrue(out.contains("top-1") && out.contains("top-5") && out.contains("confusion matrix: "), out)
        let fig = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/fig").first { $0.hasSuffix(".png") })
        XCTAssertEqual(Array(try FileUtil.read(s.dir + "/fig/" + fig).prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let dir = ZooStore(root: s.zoo).path("cls", 1)
        XCTAssertEqual(ClassifierEvalRecord.readAll(dir + "/evals.jsonl").count, 1)
        XCTAssertTrue(String(decoding: try FileUtil.read(dir + "/README.md"), as: UTF8.self).contains("Test set"))
        (st, out, err) = try TestSupport.run("ldae-zoo", ["eval", "cls", "--train", s.train, "--val", "--no-record"] + s.z)
        XCTAssertEqual(st, 0, err); XCTAssertTrue(out.contains("val split, 40 images"), out)
        (st, out, _) = try TestSupport.run("ldae-zoo", ["show", "cls"] + s.z)
        XCTAssertTrue(out.contains("classifier") && out.contains("labels         airplane"), out)
        // export: timm's classifier with its labels, and ldae_features.py
        (st, out, err) = try TestSupport.run("ldae-zoo", ["export", "cls", "--out", s.dir + "/export"] + s.z)
        XCTAssertEqual(st, 0, err)
        let cfg = try JSON.read(ZooExport.TimmConfig.self, path: s.dir + "/export/config.json")
        XCTAssertEqual(cfg.numClasses, 10); XCTAssertEqual(cfg.modelArgs.numClasses, 10); XCTAssertEqual(cfg.labelNames, classes)
        XCTAssertEqual(cfg.ldaeClassifier?.head, "pooled")
        let (t, _, _) = try Safetensors.read(s.dir + "/export/model.safetensors")
        XCTAssertEqual(t["head.weight"]?.shape, [10, 32])
        XCTAssertTrue(FileUtil.exists(s.dir + "/export/ldae_features.py"))
    }

    func testInterruptResumeAndCommandLineErrors() throws {
        try requireBinaries()
        let s = try Sample()
        let run = s.dir + "/run-i"
        let args = ["finetune", "parent", "--train", s.train, "--name", "i", "--epochs", "1000", "--batch-size", "32", "--out", run,
                    "--threads", "1", "--checkpoint-every", "0"] + s.z
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: TestSupport.executable("ldae-zoo"))
        proc.arguments = args
        let errPipe = Pipe()
        proc.standardError = errPipe; proc.standardOutput = FileHandle.nullDevice
        try proc.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let t = try? String(contentsOfFile: run + "/train_log.jsonl", encoding: .utf8), t.split(separator: "\n").count >= 3 { break }
            usleep(20_000)
        }
        kill(proc.processIdentifier, SIGTERM)
        let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        proc.waitUntilExit()
        XCTAssertEqual(proc.terminationStatus, 128 + SIGTERM, err)
        XCTAssertTrue(err.contains("interrupted by SIGTERM") && err.contains("--resume"), err)
        let (_, _, meta) = try Safetensors.read(run + "/checkpoint.safetensors")
        let done = try XCTUnwrap(Int(meta["step"] ?? ""))
        XCTAssertEqual(meta["format"], "ldae-finetune-checkpoint")
        var (st, out, e2) = try TestSupport.run("ldae-zoo", args + ["--resume", "--stop-after", "\(done + 2)", "--quiet"])
        XCTAssertEqual(st, 0, e2); XCTAssertTrue(out.contains("stopped after step \(done + 2)"), out)
        // usage errors exit 2, bad input 1, each one line
        func check(_ a: [String], _ status: Int32, _ words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
            let (st, _, err) = try TestSupport.run("ldae-zoo", a + s.z)
            XCTAssertEqual(st, status, err, file: file, line: line)
            XCTAssertEqual(err.split(separator: "\n").filter { !$0.hasPrefix("Try ") }.count, 1, err, file: file, line: line)
            for w in words { XCTAssertTrue(err.contains(w), "'\(w)' not in \(err)", file: file, line: line) }
        }
        try check(["finetune", "parent", "--name", "x"], 2, ["--train"])
        try check(["finetune", "parent", "--train", s.train, "--name", "x", "--head", "cls"], 2, ["--head must be one of pooled or readout"])
        try check(["finetune", "parent", "--train", s.train, "--name", "x", "--init", "nothere"], 1, ["no model 'nothere'"])
        try check(["predict", "parent", s.test, "--out", s.dir + "/x.csv"], 1, ["parent@v1 is not a classifier", "manifest.json"])
        try check(["predict", "i", s.test, "--out", s.dir + "/x.txt"], 2, ["--out must end in .csv"])
        try check(["eval", "parent", "--train", s.train, "--test", s.test, "--baseline", "nope"], 2, ["--baseline must be one of"])
        (st, out, _) = try TestSupport.run("ldae-zoo", ["finetune", "--help"])
        XCTAssertEqual(st, 0); XCTAssertTrue(out.contains("--layer-decay") && out.contains("--drop-path"), out)
    }

    /// tools/check_timm.py with a Python that has torch and timm ($LDAE_TIMM_PYTHON, else ../venv-bench/bin/python
    /// beside the checkout): a classifier's logits from timm's VisionTransformer(num_classes=C), and the export's
    /// ldae_features.py on an encoder's recommended readout (block 1 with grid2 pooling), and a readout-head classifier's
    /// ldae_logits.
    func testCheckTimmOnAClassifierAndTheRecommendedReadout() throws {
        try requireBinaries()
        let env = ProcessInfo.processInfo.environment["LDAE_TIMM_PYTHON"]
        let candidates = (env.map { [$0] } ?? []) + [URL(fileURLWithPath: TestSupport.repo).deletingLastPathComponent().path + "/venv-bench/bin/python"]
        guard let py = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) && (try? TestSupport.runPython($0, "import torch, timm")) != nil }) else {
            throw XCTSkip("no Python with torch and timm (set LDAE_TIMM_PYTHON); tools/ref_encoder.py covers the numpy side (FinetuneTests)")
        }
        let s = try Sample()
        var (st, _, err) = try TestSupport.run("ldae-zoo", ["finetune", "parent", "--train", s.train, "--name", "cls", "--steps", "6",
                                                            "--batch-size", "32", "--lr", "5e-2", "--out", s.dir + "/run-cls", "--quiet"] + s.z)
        XCTAssertEqual(st, 0, err)
        (st, _, err) = try TestSupport.run("ldae-zoo", ["recommend", "parent@v1", "--layers", "1", "--pooling", "grid2"] + s.z)
        XCTAssertEqual(st, 0, err)
        (st, _, err) = try TestSupport.run("ldae-zoo", ["finetune", "parent", "--train", s.train, "--name", "rcls", "--steps", "4", "--head", "readout",
                                                        "--batch-size", "32", "--lr", "5e-2", "--out", s.dir + "/run-rcls", "--quiet"] + s.z)
        XCTAssertEqual(st, 0, err)
        for ref in ["cls", "parent", "rcls"] {
            let out = try TestSupport.runPython(py, """
                import runpy, sys
                sys.argv = sys.argv[1:]
                try:
                    runpy.run_path(sys.argv[0], run_name="__main__")
                except SystemExit as e:
                    assert not e.code, e.code
                """, args: [TestSupport.repo + "/tools/check_timm.py", ref, s.test, "--zoo", s.zoo, "--ldae-zoo", TestSupport.executable("ldae-zoo")])
            XCTAssertTrue(out.contains("ok: ") && out.contains("export included"), out)
            XCTAssertTrue(ref == "cls" ? out.contains("num_classes=10) logits") : out.contains("layers 1, grid2 pooling"), out)
            if ref == "rcls" { XCTAssertTrue(out.contains("ldae_logits(model, x) (readout head)"), out) }
        }
    }
}
