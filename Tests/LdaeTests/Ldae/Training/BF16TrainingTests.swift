import Foundation
import XCTest
@testable import Ldae

/// Training in bf16 (`--precision bf16`): the loss curve against fp32's, and the precision in the checkpoint, the zoo
/// entry and the card; a resume in another precision is refused.
final class BF16TrainingTests: XCTestCase {
    override func setUp() { TrainSignals.reset() }

    /// The micro config on the training fixture, `steps` steps of batch 4, in the given precision.
    func options(_ f: TrainFixture, _ name: String, _ p: Precision, steps: Int) -> TrainOptions {
        var o = f.options(name) { $0.epochs = 1000 }
        o.steps = steps
        o.plan = ExecutionPlan(threads: 1, precision: p)
        return o
    }

    /// Band: the mean over the last 50 of 200 steps of |loss_bf16 - loss_fp32| / loss_fp32 below 2% (both runs see the
    /// same batches and noise: functions of (seed, step); measured 0.08% on an AMD EPYC with AVX512-BF16). The bf16 run
    /// must differ from fp32 (the bf16 kernel is taken).
    func testBF16TrainingTracksTheFP32LossCurve() throws {
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16: bf16 training cannot run here") }
        let f = try TrainFixture(); defer { f.remove() }
        var ob = options(f, "bf", .bf16, steps: 200)
        ob.publish = true
        let fp = try Trainer(options(f, "fp", .fp32, steps: 200)).run(), bf = try Trainer(ob).runPublishing()
        XCTAssertEqual(fp.losses.count, 200); XCTAssertEqual(bf.losses.count, 200)
        XCTAssertNotEqual(fp.losses, bf.losses, "bf16 gave fp32's losses bit for bit: the bf16 kernel was not taken")
        let last = zip(fp.losses.suffix(50), bf.losses.suffix(50)).map { abs($1 - $0) / $0 }
        let meanRel = last.reduce(0, +) / Double(last.count)
        XCTAssertLessThan(meanRel, 0.02, "mean relative difference of the last 50 losses")
        // the curve really fell, so the band compares trained models
        let first = fp.losses.prefix(10).reduce(0, +) / 10, end = fp.losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(end, 0.7 * first, "fp32 loss \(first) -> \(end)")

        // recorded: checkpoint metadata, manifest, card
        let meta = try Safetensors.read(ob.outDir + "/" + Checkpoint.fileName).metadata
        XCTAssertEqual(meta["precision"], "bf16")
        let entry = try XCTUnwrap(bf.published).path
        let m = try JSON.read(Manifest.self, path: entry + "/" + ZooStore.manifestFile)
        XCTAssertEqual(m.precision, .bf16)
        let card = try String(contentsOfFile: entry + "/" + ModelCard.fileName, encoding: .utf8)
        XCTAssertTrue(card.contains("bf16 matrix products"), card)
    }

    /// --resume needs the checkpoint's precision (one precision per run); a checkpoint without the key is fp32.
    func testResumeInAnotherPrecisionIsRefusedAndOldCheckpointsAreFP32() throws {
        let f = try TrainFixture(); defer { f.remove() }
        var o = options(f, "r", .fp32, steps: 6)
        o.stopAfter = 3
        _ = try Trainer(o).run()
        let ck = o.outDir + "/" + Checkpoint.fileName
        XCTAssertEqual(try Safetensors.read(ck).metadata["precision"], "fp32")
        // a checkpoint written before the precision was recorded: its metadata without the key
        var (tensors, order, meta) = try Safetensors.read(ck)
        meta["precision"] = nil
        try Safetensors.write(order.map { tensors[$0]! }, metadata: meta, to: ck)
        do {   // (the trainer holds the run folder's lock while it lives)
            let t = try Trainer({ var r = o; r.resume = true; r.stopAfter = 4; return r }())
            XCTAssertEqual(t.step, 3)
            _ = try t.run()
        }
        guard GEMMKernel.bf16.available else { throw XCTSkip("this CPU has no AVX512-BF16: the bf16 side of the resume check cannot run") }
        var b = options(f, "r", .bf16, steps: 6)
        b.resume = true
        XCTAssertThrowsError(try Trainer(b)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("--precision fp32") && s.contains("cannot resume"), s)
        }
    }
}
