import Foundation
import XCTest
@testable import Ldae

/// `mpirun -np 2 ldae-zoo finetune ...` against one process at the same global batch and seed: the same losses,
/// weights and validation curve to float rounding (the ranks' gradients are summed in another order), and a 2-rank run
/// stopped and resumed on 1 process. Tolerances as MPITrainTests' (losses 1e-4 relative, weights 5e-4 absolute).
final class FinetuneMPITests: XCTestCase {
    func testTwoRanksMatchOneProcessAndResumeOnOne() throws {
        guard FileManager.default.isExecutableFile(atPath: TestSupport.executable("ldae-zoo")) else { throw XCTSkip("build ldae-zoo first") }
        guard FileManager.default.isExecutableFile(atPath: MPITrainTests.mpirun) else { throw XCTSkip("no mpirun (tools/setup installs Open MPI)") }
        let f = try FinetuneTests.Fixture()
        func args(_ name: String) -> [String] {
            ["finetune", "parent", "--train", f.train, "--name", name, "--zoo", f.store.root, "--out", f.dir + "/run-" + name, "--steps", "8",
             "--batch-size", "8", "--lr", "5e-3", "--drop-path", "0.2", "--val-fraction", "0.25", "--eval-every", "4", "--threads", "1", "--quiet"]
        }
        var (st, _, err) = try TestSupport.run("ldae-zoo", args("one"))
        XCTAssertEqual(st, 0, err)
        let exe = TestSupport.executable("ldae-zoo")
        (st, _, err) = try MPITrainTests.runPath(MPITrainTests.mpirun, MPITrainTests.mpiOptions + ["-np", "2", exe] + args("two"))
        XCTAssertEqual(st, 0, err)
        let one = Finetuner.readLines(TrainLogLine.self, f.dir + "/run-one/train_log.jsonl").map(\.loss)
        let two = Finetuner.readLines(TrainLogLine.self, f.dir + "/run-two/train_log.jsonl").map(\.loss)
        XCTAssertEqual(one.count, 8); XCTAssertEqual(two.count, 8)
        for (a, b) in zip(one, two) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a))) }
        let w1 = try Safetensors.read(f.store.path("one", 1) + "/weights.safetensors").0
        let w2 = try Safetensors.read(f.store.path("two", 1) + "/weights.safetensors").0
        var worst: Float = 0
        for (k, v) in w1 { for (x, y) in zip(v.values, w2[k]!.values) { worst = max(worst, abs(x - y)) } }
        XCTAssertLessThan(worst, 5e-4)
        let c1 = try f.store.load("one").manifest.classifier!, c2 = try f.store.load("two").manifest.classifier!
        XCTAssertEqual(c1.valCurve.map(\.images), c2.valCurve.map(\.images))   // every validation image counted once
        XCTAssertEqual(c2.valCurve.map(\.step), [0, 4, 8])
        XCTAssertEqual(try f.store.load("two").manifest.provenance?.worldSize, 2)
        // two ranks stopped at step 4, resumed by one process: the uninterrupted run's losses
        (st, _, err) = try MPITrainTests.runPath(MPITrainTests.mpirun, MPITrainTests.mpiOptions + ["-np", "2", exe] + args("r") + ["--stop-after", "4"])
        XCTAssertEqual(st, 0, err)
        (st, _, err) = try TestSupport.run("ldae-zoo", args("r") + ["--resume"])
        XCTAssertEqual(st, 0, err)
        let r = Finetuner.readLines(TrainLogLine.self, f.dir + "/run-r/train_log.jsonl").map(\.loss)
        XCTAssertEqual(r.count, 8)
        for (a, b) in zip(one, r) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a))) }
        // a global batch the ranks cannot share
        (st, _, err) = try MPITrainTests.runPath(MPITrainTests.mpirun, MPITrainTests.mpiOptions + ["-np", "3", exe] + args("bad"))
        XCTAssertNotEqual(st, 0); XCTAssertTrue(err.contains("not divisible by the 3 ranks"), err)
    }
}
