import Foundation
import XCTest
@testable import Ldae

/// Concurrent readers and appenders of one zoo entry: evaluations that run at once both keep their line and the
/// card reflects every line; `verify` while versions are being published never sees a half-written one.
final class ZooConcurrencyTests: XCTestCase {
    func testConcurrentEvaluationsKeepEveryLineAndTheCard() throws {
        let tmp = TestSupport.tempDir()
        let store = ZooStore(root: tmp + "/zoo")
        try ZooEvalTests.publishModel(store)
        let tr = try ZooEvalTests.shards(tmp + "/train", n: 40, seed: 1), te = try ZooEvalTests.shards(tmp + "/test", n: 20, seed: 2)
        let (_, dir) = try store.load("micro")
        // eight threads appending at once without the entry lock: each line is one write(2) on an O_APPEND
        // descriptor, so none is lost or cut (a seek-then-write append loses lines here)
        struct Line: Codable { var writer: Int; var pad: String }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for _ in 0..<1 { try! store.appendEval(Line(writer: i, pad: String(repeating: "x", count: 50_000)), dir: dir) }
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/evals.jsonl", encoding: .utf8).split(separator: "\n").count, 8)
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-zoo")) else { throw XCTSkip("build ldae-zoo first") }
        let args = ["eval", "micro", "--zoo", store.root, "--train", tr, "--test", te, "--knn-k", "5", "--probe-iters", "20", "--denoise-images", "0"]
        let procs: [Process] = try (0..<2).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: TestSupport.executable("ldae-zoo"))
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        for p in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        let lines = try String(contentsOfFile: dir + "/evals.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 10, "8 + 2 lines, none lost")
        for l in lines { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(l.utf8)), "an interleaved line") }
        let (recs, bad) = EvalRecord.readAll(dir + "/evals.jsonl")
        XCTAssertEqual(recs.count, 2); XCTAssertEqual(bad, 8, "the synthetic lines are not eval records")
        let card = try String(contentsOfFile: dir + "/README.md", encoding: .utf8)
        XCTAssertFalse(card.contains("Not evaluated yet"), card)
        XCTAssertNoThrow(try store.load("micro", verify: true))
        // the card was generated from both evaluations (regenerating it now changes nothing)
        let before = card
        try ModelCard.write(dir: dir)
        XCTAssertEqual(try String(contentsOfFile: dir + "/README.md", encoding: .utf8), before)
    }

    func testVerifyDuringPublishNeverSeesAHalfWrittenVersion() throws {
        let f = try TrainFixture(); defer { f.remove() }
        var o = f.options("pub"); o.steps = 1; o.publish = true
        nonisolated(unsafe) let t = try Trainer(o)
        _ = try t.runPublishing()
        let store = ZooStore(root: f.dir + "/zoo")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var publishError: Error? = nil
        DispatchQueue.global().async {
            do { for _ in 0..<15 { _ = try t.publish() } } catch { publishError = error }
            done.signal()
        }
        var checks = 0, finished = false
        while !finished {
            for v in store.versions("pub") {
                XCTAssertNoThrow(try store.load("pub@v\(v)", verify: true), "v\(v) was seen half-written")
                checks += 1
            }
            finished = done.wait(timeout: .now()) == .success
        }
        XCTAssertNil(publishError)
        XCTAssertEqual(store.versions("pub").count, 16)
        XCTAssertGreaterThan(checks, 16)
    }
}
