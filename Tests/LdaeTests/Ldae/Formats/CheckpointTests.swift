import Foundation
import XCTest
@testable import Ldae

final class CheckpointTests: XCTestCase {
    func testCheckpointRoundTripAndErrors() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let slots = [Checkpoint.Slot(name: "a.weight", shape: [2, 3], offset: 0, count: 6), Checkpoint.Slot(name: "b", shape: [2], offset: 6, count: 2)]
        let p: [Float] = (0..<8).map { Float($0) * 0.5 }
        var tc = TrainConfig(); tc.ema = 0.999; tc.seed = 77
        let ck = Checkpoint(step: 12, totalSteps: 40, adamStep: 12, seed: 77, params: p, adamM: p.map { -$0 }, adamV: p.map { $0 * $0 },
                            ema: p.map { $0 + 1 }, modelConfig: ModelPreset.micro.config, trainConfig: tc, lastLoss: 0.25, dataIndexSHA256: "abc")
        let path = dir + "/" + Checkpoint.fileName
        try ck.save(path, slots: slots)
        let back = try Checkpoint.load(path, slots: slots, parameterCount: 8)
        XCTAssertEqual(back.step, 12); XCTAssertEqual(back.totalSteps, 40); XCTAssertEqual(back.seed, 77)
        XCTAssertEqual(back.params, p); XCTAssertEqual(back.adamM, ck.adamM); XCTAssertEqual(back.adamV, ck.adamV); XCTAssertEqual(back.ema!, ck.ema!)
        XCTAssertEqual(back.trainConfig, tc); XCTAssertEqual(back.modelConfig, ModelPreset.micro.config); XCTAssertEqual(back.lastLoss, 0.25)
        // missing, truncated, wrong shapes: one clear error each
        XCTAssertThrowsError(try Checkpoint.load(dir + "/none.safetensors", slots: slots, parameterCount: 8)) { XCTAssertTrue("\($0)".contains("no checkpoint")) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 10).write(to: URL(fileURLWithPath: dir + "/trunc.safetensors"))
        XCTAssertThrowsError(try Checkpoint.load(dir + "/trunc.safetensors", slots: slots, parameterCount: 8)) { XCTAssertTrue("\($0)".contains("trunc.safetensors"), "\($0)") }
        let other = [Checkpoint.Slot(name: "a.weight", shape: [3, 2], offset: 0, count: 6), slots[1]]
        XCTAssertThrowsError(try Checkpoint.load(path, slots: other, parameterCount: 8)) { XCTAssertTrue("\($0)".contains("a.weight"), "\($0)") }
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/bad.safetensors"))
        XCTAssertThrowsError(try Checkpoint.load(dir + "/bad.safetensors", slots: slots, parameterCount: 8))
    }
}
