import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// The whole model's backward against finite differences, and the chunked passes against the whole batch.
final class ModelGradientTests: XCTestCase {
    func wholeModelGradientCheck(_ config: ModelConfig, randomizeAdaLN: Bool, labels: [Int32]? = nil) throws {
        let m = try LDAEModel(config: config, seed: 7)
        var rng = RNG(seed: 11)
        if randomizeAdaLN {
            // DiT zero-inits adaLN_modulation (gates 0 = identity blocks); give them values so every path is live.
            for info in m.tensors where info.name.contains("adaLN_modulation") {
                for i in 0..<info.count { m.params[info.offset + i] = Float(rng.normal()) * 0.3 }
            }
        }
        let b = 2, n = b * config.tokens * config.tokenDim
        let x = FD.randn(n, &rng)
        let t: [Float] = [0.13, 0.71]
        let w = FD.randn(n, &rng)
        m.zeroGrad()
        func fwd() -> UnsafePointer<Float> {
            guard let labels else { return m.forward(x, t: t, batch: b) }
            return labels.withUnsafeBufferPointer { m.forward(x, t: t, labels: $0.baseAddress, batch: b) }
        }
        let out = Array(UnsafeBufferPointer(start: fwd(), count: n))
        XCTAssert(out.allSatisfy { $0.isFinite })
        m.backward(w)
        func loss() -> Double {
            let o = fwd()
            var s = 0.0
            for i in 0..<n { s += Double(o[i]) * Double(w[i]) }
            return s
        }
        var checked = 0
        for info in m.tensors {
            let g = UnsafeBufferPointer(start: m.grads + info.offset, count: info.count)
            let gnorm = g.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            if !info.trainable {
                XCTAssertEqual(gnorm, 0, "\(info.name) is fixed and must get no gradient")
                continue
            }
            XCTAssertGreaterThan(gnorm, 0, "\(info.name) got a zero gradient")
            let idx = FD.sampleIndices(info.count, 6, &rng)
            let eps: Float = 3e-3
            let num: [Double] = idx.map { i in
                let p = m.params + info.offset + i
                let old = p.pointee
                p.pointee = old + eps; let lp = loss()
                p.pointee = old - eps; let lm = loss()
                p.pointee = old
                return (lp - lm) / Double(2 * eps)
            }
            FD.assertClose(info.name, numeric: num, analytic: idx.map { Double(g[$0]) }, rtol: 3e-2, atol: 3e-3)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    func testWholeModelGradientsSinCos() throws {
        try wholeModelGradientCheck(ModelTests.tinyTestConfig(), randomizeAdaLN: false)
    }

    func testWholeModelGradientsLearnedPosAndAdaLN() throws {
        try wholeModelGradientCheck(ModelTests.tinyTestConfig(posEmbed: .learned, timeCond: .adaln), randomizeAdaLN: true)
    }

    /// Class conditioning (DiT's label embedding into adaLN), with and without timestep conditioning: the label
    /// table gets its gradient (the rows of the labels used, one of them the null label) like every other tensor.
    func testWholeModelGradientsClassConditioned() throws {
        var c = ModelTests.tinyTestConfig(timeCond: .adaln); c.numClasses = 3
        try wholeModelGradientCheck(c, randomizeAdaLN: true, labels: [2, 3])
        var alone = ModelTests.tinyTestConfig(); alone.numClasses = 5
        try wholeModelGradientCheck(alone, randomizeAdaLN: true, labels: [0, 4])
    }

    func testChunkedTrainingForwardGivesTheSameOutputAndGradients() throws {
        for tc in TimeCond.allCases {
            let config = ModelTests.tinyTestConfig(posEmbed: .learned, timeCond: tc)
            let m = try LDAEModel(config: config, seed: 4)
            var rng = RNG(seed: 6)
            for info in m.tensors where info.name.contains("adaLN_modulation") {
                for i in 0..<info.count { m.params[info.offset + i] = Float(rng.normal()) * 0.3 }
            }
            let b = 5, per = config.tokens * config.tokenDim
            let x = FD.randn(b * per, &rng), dout = FD.randn(b * per, &rng)
            let t: [Float] = [0.1, 0.9, 0.3, 0.5, 0.7]
            var outs: [[Float]] = [], grads: [[Float]] = []
            // the whole batch layer by layer; one image per chunk (uneven shares: 5 chunks over the cores); 2 images
            for chunk in [0, config.tokens, 2 * config.tokens] {
                let mc = try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: chunk))
                mc.zeroGrad()
                outs.append(Array(UnsafeBufferPointer(start: mc.forward(x, t: t, batch: b), count: b * per)))
                mc.backward(dout)
                grads.append(Array(UnsafeBufferPointer(start: mc.grads, count: mc.parameterCount)))
            }
            for k in 1..<outs.count {
                XCTAssertEqual(outs[k], outs[0], "\(tc): chunked forward \(k)")
                XCTAssertLessThan(FD.maxAbsDiff(grads[k], grads[0]), 1e-5, "\(tc): gradients after chunked forward \(k)")
            }
            XCTAssertGreaterThan(grads[0].map(abs).max() ?? 0, 0)
        }
    }

    /// The chunked backward with its tail (`ChunkPlan.backward`: fixed shares, then small chunks with gradient
    /// buffers of their own, handed out as cores free up) gives the layer-by-layer gradients, the same bits on every
    /// run (the sums never depend on which core took which tail chunk), and the same forward outputs.
    func testBackwardTailChunksGiveTheSameGradientsEveryRun() throws {
        let config = ModelTests.tinyTestConfig()
        let m = try LDAEModel(config: config, seed: 5)
        var rng = RNG(seed: 9)
        let b = 16, per = config.tokens * config.tokenDim
        let x = FD.randn(b * per, &rng), dout = FD.randn(b * per, &rng), t = [Float](repeating: 0.5, count: b)
        XCTAssertEqual(ChunkPlan.backward(batch: b, perChunk: 4, workers: 2).tail.map(\.count), [2, 2, 1, 1])
        func grads(_ m: LDAEModel) -> [Float] {
            m.zeroGrad()
            _ = m.forward(x, t: t, batch: b)
            m.backward(dout)
            return Array(UnsafeBufferPointer(start: m.grads, count: m.parameterCount))
        }
        let whole = grads(try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: 0, backwardTailChunks: 0)))
        let fixed = grads(try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: 4 * config.tokens, backwardTailChunks: 0)))
        let tailedModel = try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: 4 * config.tokens, backwardTailChunks: 4))
        let tailed = (0..<4).map { _ in grads(tailedModel) }
        let tol = 1e-6 * Double(whole.map(abs).max() ?? 1)   // float sums in another order
        XCTAssertLessThan(Double(FD.maxAbsDiff(fixed, whole)), tol)
        XCTAssertLessThan(Double(FD.maxAbsDiff(tailed[0], whole)), tol, "tail chunks against layer by layer")
        for r in 1..<tailed.count {
            let differ = (0..<m.parameterCount).filter { tailed[r][$0].bitPattern != tailed[0][$0].bitPattern }
            XCTAssert(differ.isEmpty, "run \(r): \(differ.count) gradients differ from run 0's")
        }
        XCTAssertGreaterThan(whole.map(abs).max() ?? 0, 0)
    }
}
