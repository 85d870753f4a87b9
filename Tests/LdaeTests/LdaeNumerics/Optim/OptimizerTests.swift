import Foundation
import XCTest
@testable import Ldae

/// AdamW, gradient clipping, the EMA and the learning-rate schedule.
final class OptimizerTests: XCTestCase {
    func testLRScheduleWarmupAndCosine() {
        var c = TrainConfig(); c.baseLR = 1e-3; c.batchSize = 64; c.warmupEpochs = 2; c.minLR = 1e-5
        let lr = LRSchedule(config: c, stepsPerEpoch: 10, totalSteps: 120)
        let peak = 1e-3 * 64 / 256
        XCTAssertEqual(lr.peak, peak); XCTAssertEqual(lr.warmupSteps, 20)
        XCTAssertEqual(lr(0), peak / 20, accuracy: 1e-15)
        XCTAssertEqual(lr(9), peak * 10 / 20, accuracy: 1e-15)
        XCTAssertEqual(lr(19), peak, accuracy: 1e-15)
        XCTAssertEqual(lr(20), peak, accuracy: 1e-15)
        XCTAssertEqual(lr(70), 1e-5 + (peak - 1e-5) * 0.5, accuracy: 1e-12)  // half way through the cosine
        XCTAssertEqual(lr(120), 1e-5, accuracy: 1e-15)
        for s in 20..<119 { XCTAssertGreaterThanOrEqual(lr(s), lr(s + 1)) }
        XCTAssertEqual(lr(37), LRSchedule(config: c, stepsPerEpoch: 10, totalSteps: 120)(37)) // pure function
    }

    func testAdamWMatchesReferenceAndMasksDecay() {
        let n = 6
        var p: [Float] = [0.5, -1, 2, 0.1, 0.3, -0.7]
        var pRef = p.map(Double.init)
        let opt = AdamW(count: n, segments: [.init(offset: 0, count: 4, decay: true), .init(offset: 4, count: 2, decay: false)],
                        beta1: 0.9, beta2: 0.95, weightDecay: 0.05)
        var m = [Double](repeating: 0, count: n), v = [Double](repeating: 0, count: n)
        var rng = RNG(seed: 1)
        for step in 1...5 {
            let g = (0..<n).map { _ in Float(rng.normal()) }
            let lr = 0.01 * Double(step)
            p.withUnsafeMutableBufferPointer { pp in opt.update(params: pp.baseAddress!, grads: g, lr: lr, plan: .automatic) }
            for i in 0..<n {   // torch.optim.AdamW, in double
                let gi = Double(g[i])
                if i < 4 { pRef[i] *= 1 - lr * 0.05 }
                m[i] = 0.9 * m[i] + 0.1 * gi; v[i] = 0.95 * v[i] + 0.05 * gi * gi
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.95, Double(step)))
                pRef[i] -= lr * mh / (vh.squareRoot() + 1e-8)
            }
        }
        for i in 0..<n { XCTAssertEqual(Double(p[i]), pRef[i], accuracy: 1e-5) }
        XCTAssertEqual(opt.step, 5)
        // with zero gradients only decayed segments move
        var q: [Float] = [1, 1, 1, 1, 1, 1]
        let o2 = AdamW(count: n, segments: opt.segments, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        q.withUnsafeMutableBufferPointer { o2.update(params: $0.baseAddress!, grads: [Float](repeating: 0, count: n), lr: 0.5, plan: .automatic) }
        XCTAssertEqual(q, [0.95, 0.95, 0.95, 0.95, 1, 1])
    }

    func testAdamWAndNormAtParallelSizesMatchScalarReference() {
        // segments large enough for the 8-lane loop, the tails and the split over cores; odd offsets and counts
        let n = 70_011, split = 40_003
        var rng = RNG(seed: 3)
        var p = (0..<n).map { _ in Float(rng.normal()) }
        var pRef = p.map(Double.init)
        let opt = AdamW(count: n, segments: [.init(offset: 0, count: split, decay: true), .init(offset: split, count: n - split, decay: false)],
                        beta1: 0.9, beta2: 0.95, weightDecay: 0.05)
        var m = [Double](repeating: 0, count: n), v = [Double](repeating: 0, count: n)
        for step in 1...3 {
            let g = (0..<n).map { _ in Float(rng.normal()) }
            let lr = 0.01
            p.withUnsafeMutableBufferPointer { pp in opt.update(params: pp.baseAddress!, grads: g, lr: lr, plan: .automatic) }
            for i in 0..<n {
                let gi = Double(g[i])
                if i < split { pRef[i] *= 1 - lr * 0.05 }
                m[i] = 0.9 * m[i] + 0.1 * gi; v[i] = 0.95 * v[i] + 0.05 * gi * gi
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.95, Double(step)))
                pRef[i] -= lr * mh / (vh.squareRoot() + 1e-8)
            }
        }
        var worst = 0.0
        for i in 0..<n { worst = max(worst, abs(Double(p[i]) - pRef[i])) }
        XCTAssertLessThan(worst, 1e-5)
        // norm over many 4096-blocks and a ragged tail against a Double loop
        let ref = p.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let got = p.withUnsafeBufferPointer { GradOps.norm($0.baseAddress!, count: n, plan: .automatic) }
        XCTAssertEqual(got, ref, accuracy: 1e-5 * ref)
    }

    func testClipAndEMA() {
        var g: [Float] = [3, 4, 0]
        let n = g.withUnsafeMutableBufferPointer { GradOps.clip($0.baseAddress!, count: 3, maxNorm: 1, plan: .automatic) }
        XCTAssertEqual(n, 5, accuracy: 1e-9)
        XCTAssertEqual(Double(g[0]), 0.6, accuracy: 1e-5); XCTAssertEqual(Double(g[1]), 0.8, accuracy: 1e-5)
        var h: [Float] = [3, 4]
        _ = h.withUnsafeMutableBufferPointer { GradOps.clip($0.baseAddress!, count: 2, maxNorm: 10, plan: .automatic) }
        XCTAssertEqual(h, [3, 4])
        var e: [Float] = [1, 2]
        e.withUnsafeMutableBufferPointer { GradOps.emaUpdate($0.baseAddress!, params: [3, 2], count: 2, decay: 0.75) }
        XCTAssertEqual(e, [1.5, 2])
    }
}
