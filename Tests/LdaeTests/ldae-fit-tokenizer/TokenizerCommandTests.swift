import Foundation
import XCTest
@testable import Ldae

/// Fitting tokenizers (TokenizerFit, ldae-fit-tokenizer) and training on them (ldae-train --tokenizer-file), on the
/// tiny synthetic fixture (8x8 images, patch 4).
final class TokenizerCommandTests: XCTestCase {
    override func setUp() { TrainSignals.reset() }

    func fit(_ f: TrainFixture, _ kind: TokenizerKind, d: Int = 4, steps: Int = 30, out: String? = nil,
             stopAfter: Int? = nil, resume: Bool = false) throws -> (TokenizerFit.Stop, TokenizerFile, String) {
        var s = TokenizerFitSettings(); s.kind = kind; s.latentDim = d; s.steps = steps; s.batchSize = 4; s.width = 4; s.lr = 5e-3
        let path = out ?? f.dir + "/\(kind.rawValue)-d\(d).h5"
        var o = TokenizerFit.Options(data: [f.shards], out: path, settings: s)
        o.quiet = true; o.checkpointEvery = 0; o.stopAfter = stopAfter; o.resume = resume; o.statImages = 24
        let (stop, file) = try TokenizerFit.run(o)
        return (stop, file, path)
    }

    func testFitWritesAFileH5pyReadsAndResumeIsBitExact() throws {
        let f = try TrainFixture(); defer { f.remove() }
        for kind in [TokenizerKind.patchAE, .patchVAE, .convVAE] {
            let (stop, whole, path) = try fit(f, kind, steps: 200)
            XCTAssertEqual(stop, .finished)
            XCTAssertEqual(whole.lossCurve.count, 3 * 200)
            let mse = stride(from: 1, to: whole.lossCurve.count, by: 3).map { Double(whole.lossCurve[$0]) }
            let first = mse.prefix(20).reduce(0, +) / 20, last = mse.suffix(20).reduce(0, +) / 20
            XCTAssertLessThan(last, 0.5 * first, "\(kind.rawValue): the reconstruction error falls")
            XCTAssertTrue(whole.reconMSE.isFinite && whole.latentVariance.allSatisfy { $0 > 0 })
            // interrupted at step 12, resumed: the same file, bit for bit
            let (s1, _, p2) = try fit(f, kind, steps: 200, out: f.dir + "/resumed-\(kind.rawValue).h5", stopAfter: 120)
            XCTAssertEqual(s1, .stopAfter)
            XCTAssertTrue(FileUtil.exists(TokenizerFit.checkpointPath(p2)))
            let (s2, resumed, _) = try fit(f, kind, steps: 200, out: p2, resume: true)
            XCTAssertEqual(s2, .finished)
            XCTAssertFalse(FileUtil.exists(TokenizerFit.checkpointPath(p2)), "the checkpoint goes once the fit is done")
            XCTAssertEqual(resumed.lossCurve, whole.lossCurve)
            for (a, b) in zip(resumed.tensors, whole.tensors) { XCTAssertEqual(a.values, b.values, "\(kind.rawValue) \(a.name)") }
            // the file as h5py sees it
            let py = """
            import h5py, json, sys
            f = h5py.File(sys.argv[1], "r")
            names = json.loads(f.attrs["tensors"])
            print(f.attrs["format"], f.attrs["kind"], int(f.attrs["latent_dim"]), f["loss_curve"].shape, f["latent_variance"].shape, all(("w." + n) in f for n in names))
            """
            let out = try TestSupport.runPython("/usr/bin/python3", py, args: [path])
            XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ldae-tokenizer \(kind.rawValue) 4 (200, 3) (4,) True")
        }
    }

    func testTrainOnEachFittedTokenizerPublishesItsFile() throws {
        let f = try TrainFixture(); defer { f.remove() }
        for kind in [TokenizerKind.patchAE, .patchVAE, .convVAE] {
            let (_, file, path) = try fit(f, kind)
            var o = f.options(kind.rawValue) { $0.tokenizer = kind; $0.latentDim = 4; $0.latentScale = .global }
            o.tokenizerPath = path; o.steps = 6; o.publish = true
            let r = try Trainer(o).runPublishing()
            XCTAssertEqual(r.stop, .finished)
            XCTAssert(r.losses.allSatisfy(\.isFinite))
            let store = ZooStore(root: f.dir + "/zoo")
            let zm = try ZooModel(store: store, ref: kind.rawValue)
            XCTAssertEqual(zm.manifest.tokenizer.kind, kind)
            XCTAssertEqual(zm.manifest.tokenizer.file, "tokenizer.h5")
            XCTAssertEqual(zm.manifest.tokenizer.sha256, try SHA256.hex(file: path))
            XCTAssertNil(zm.manifest.tokenizer.pcaFile, "the PCA basis is not part of a \(kind.rawValue) entry")
            XCTAssertEqual(try zm.objective().latentDim, file.latentDim)
            let card = try String(contentsOfFile: zm.dir + "/README.md", encoding: .utf8)
            let sha = try SHA256.hex(file: path)
            XCTAssertTrue(card.contains(kind.rawValue) && card.contains(String(sha.prefix(12))), card)
        }
    }

    func testTrainingOnAFittedTokenizerResumesBitExact() throws {
        let f = try TrainFixture(); defer { f.remove() }
        let (_, _, path) = try fit(f, .convVAE)
        func opts(_ n: String) -> TrainOptions {
            var o = f.options(n) { $0.tokenizer = .convVAE; $0.latentDim = 4 }
            o.tokenizerPath = path; o.steps = 8
            return o
        }
        let whole = try Trainer(opts("w")).run().losses
        var a = opts("r"); a.stopAfter = 3
        let first = try Trainer(a).run().losses
        var b = opts("r"); b.resume = true
        let rest = try Trainer(b).run().losses
        XCTAssertEqual(first + rest, whole)
    }

    func testBadTokenizerFilesAreOneClearError() throws {
        let f = try TrainFixture(); defer { f.remove() }
        let (_, file, path) = try fit(f, .patchAE)
        // another patch size
        var other = file; other.patchSize = 2
        try other.save(f.dir + "/p2.h5")
        XCTAssertThrowsError(try LoadedTokenizer.load(f.dir + "/p2.h5", geometry: PatchGeometry(imageSize: 8, patchSize: 4))) {
            XCTAssertTrue("\($0)".contains("p2.h5") && "\($0)".contains("patch_size 2"), "\($0)")
        }
        // a conv-vae fit on 8px images is refused for 16px shards
        let (_, _, conv) = try fit(f, .convVAE)
        XCTAssertThrowsError(try LoadedTokenizer.load(conv, geometry: PatchGeometry(imageSize: 16, patchSize: 4))) {
            XCTAssertTrue("\($0)".contains("8px") && "\($0)".contains("16px"), "\($0)")
        }
        // damaged: truncated, garbage, a tensor missing
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: f.dir + "/trunc.h5"))
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: f.dir + "/junk.h5"))
        for bad in ["trunc.h5", "junk.h5"] {
            XCTAssertThrowsError(try LoadedTokenizer.load(f.dir + "/" + bad, geometry: PatchGeometry(imageSize: 8, patchSize: 4))) {
                XCTAssertTrue("\($0)".contains(bad), "\($0)")
            }
        }
        var missing = file; missing.tensors.removeLast()
        try missing.save(f.dir + "/missing.h5")
        let m = try LoadedTokenizer.load(f.dir + "/missing.h5", geometry: PatchGeometry(imageSize: 8, patchSize: 4))
        XCTAssertThrowsError(try m.model(latentDim: 4)) { XCTAssertTrue("\($0)".contains("decoder.bias") && "\($0)".contains("missing.h5"), "\($0)") }
        // the trainer: a kind that disagrees with the file, a d that disagrees, no file at all
        var o = f.options("bad") { $0.tokenizer = .patchVAE; $0.latentDim = 4 }
        o.tokenizerPath = path
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("patch-ae tokenizer file"), "\($0)") }
        o = f.options("bad2") { $0.tokenizer = .patchAE; $0.latentDim = 8 }
        o.tokenizerPath = path
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("latent_dim 8") && "\($0)".contains("d = 4"), "\($0)") }
        o = f.options("bad3") { $0.tokenizer = .patchAE }
        XCTAssertThrowsError(try Trainer(o)) { XCTAssertTrue("\($0)".contains("--tokenizer-file"), "\($0)") }
    }

    func testCommandLine() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-fit-tokenizer")) else { throw XCTSkip("build ldae-fit-tokenizer first") }
        let f = try TrainFixture(); defer { f.remove() }
        let out = f.dir + "/tok.h5"
        var (st, so, err) = try TestSupport.run("ldae-fit-tokenizer", [f.shards, "--kind", "patch-vae", "--latent-dim", "4", "--out", out,
                                                                        "--steps", "20", "--batch-size", "4", "--quiet"])
        XCTAssertEqual(st, 0, err)
        XCTAssertTrue(so.contains("reconstruction MSE") && FileUtil.exists(f.dir + "/tok-reconstructions.png"), so)
        (st, _, err) = try TestSupport.run("ldae-fit-tokenizer", [f.shards, "--kind", "patch-vae", "--latent-dim", "4", "--out", out,
                                                                   "--steps", "20", "--batch-size", "4", "--resume"])
        XCTAssertEqual(st, 0); XCTAssertTrue(err.contains("nothing to do"), err)
        (st, _, err) = try TestSupport.run("ldae-fit-tokenizer", [f.shards, "--kind", "pca", "--out", out])
        XCTAssertEqual(st, 2); XCTAssertTrue(err.contains("ldae-fit-pca"), err)
        (st, _, err) = try TestSupport.run("ldae-fit-tokenizer", [f.shards, "--kind", "conv-vae", "--latent-dim", "0", "--out", out])
        XCTAssertEqual(st, 2); XCTAssertTrue(err.contains("latent_dim"), err)
        // ldae-train takes the kind and d from the file, and names the file in its one error line
        (st, so, err) = try TestSupport.run("ldae-train", ["--data", f.shards, "--tokenizer-file", out, "--config", "micro", "--name", "t",
                                                           "--batch-size", "4", "--steps", "3", "--out", f.dir + "/run", "--zoo", f.dir + "/zoo",
                                                           "--threads", "1", "--quiet"])
        XCTAssertEqual(st, 0, err)
        XCTAssertEqual(try ZooStore(root: f.dir + "/zoo").load("t", verify: true).0.training.tokenizer, .patchVAE)
        try Data("x".utf8).write(to: URL(fileURLWithPath: f.dir + "/broken.h5"))
        (st, _, err) = try TestSupport.run("ldae-train", ["--data", f.shards, "--tokenizer-file", f.dir + "/broken.h5", "--config", "micro",
                                                          "--name", "u", "--out", f.dir + "/run2", "--zoo", f.dir + "/zoo"])
        XCTAssertEqual(st, 1); XCTAssertTrue(err.hasPrefix("ldae-train: error: ") && err.contains("broken.h5"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
        // class conditioning on unlabelled shards: one line naming the shards
        (st, _, err) = try TestSupport.run("ldae-train", ["--data", f.shards, "--pca", f.pca, "--class-cond", "--config", "micro",
                                                          "--name", "c", "--out", f.dir + "/run3", "--zoo", f.dir + "/zoo"])
        XCTAssertEqual(st, 1); XCTAssertTrue(err.contains("--class-cond needs labelled shards") && err.contains("shards"), err)
        XCTAssertEqual(err.split(separator: "\n").count, 1, err)
    }
}
