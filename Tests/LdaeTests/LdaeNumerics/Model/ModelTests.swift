import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

final class ModelTests: XCTestCase {
    /// A very small config (8x8 images, patch 4: 4 tokens of 48) for finite differences.
    static func tinyTestConfig(posEmbed: PosEmbedKind = .sincos, timeCond: TimeCond = .none) -> ModelConfig {
        var c = ModelConfig()
        c.imageSize = 8; c.patchSize = 4
        c.encoderWidth = 16; c.encoderDepth = 2; c.encoderHeads = 2
        c.decoderWidth = 12; c.decoderDepth = 1; c.decoderHeads = 3; c.mlpRatio = 2
        c.posEmbed = posEmbed; c.timeCond = timeCond
        return c
    }

    /// Features of a class-conditioned model use the null label: the same as the training pass told "null" for every
    /// image, different from a real label's.
    func testClassConditionedFeaturesUseTheNullLabel() throws {
        var c = Self.tinyTestConfig(); c.numClasses = 4
        let m = try LDAEModel(config: c, seed: 5)
        var rng = RNG(seed: 3)
        for info in m.tensors where info.name.contains("adaLN_modulation") || info.name.hasPrefix("y_embedder") {
            for i in 0..<info.count { m.params[info.offset + i] = Float(rng.normal()) * 0.3 }
        }
        let b = 2, n = b * c.tokens * c.tokenDim
        let x = FD.randn(n, &rng)
        var inferred = [Float](repeating: 0, count: b * c.tokens * c.tokenDim)
        m.reconstruct(x, t: nil, batch: b, out: &inferred)
        let null: [Int32] = [4, 4], real: [Int32] = [1, 2]
        let withNull = null.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: m.forward(x, t: [0, 0], labels: $0.baseAddress, batch: b), count: n)) }
        let withReal = real.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: m.forward(x, t: [0, 0], labels: $0.baseAddress, batch: b), count: n)) }
        for i in 0..<n { XCTAssertEqual(inferred[i], withNull[i], accuracy: 1e-5) }
        XCTAssertGreaterThan(zip(withNull, withReal).map { abs($0 - $1) }.max()!, 1e-3, "the label must change the output")
        XCTAssertTrue(m.tensors.contains { $0.name == "y_embedder.embedding_table.weight" && $0.shape == [5, c.encoderWidth] && $0.encoder })
    }

    /// The forward and backward pack the weights for the AVX2 GEMM once per pass: after the parameters change (an
    /// optimizer step), both passes must use the new values, exactly as a model built with them does.
    func testPassesUseTheCurrentWeightsAfterAnUpdate() throws {
        let config = Self.tinyTestConfig()
        let m = try LDAEModel(config: config, seed: 4), fresh = try LDAEModel(config: config, seed: 4)
        var rng = RNG(seed: 8)
        let b = 3, per = config.tokens * config.tokenDim
        let x = FD.randn(b * per, &rng), dout = FD.randn(b * per, &rng), t: [Float] = [0.2, 0.5, 0.8]
        m.zeroGrad()
        _ = m.forward(x, t: t, batch: b)
        m.backward(dout)
        for i in 0..<m.parameterCount { m.params[i] += 0.05 * Float(rng.normal()) }   // the "update"
        fresh.params.update(from: m.params, count: m.parameterCount)
        var outs: [[Float]] = [], grads: [[Float]] = []
        for model in [m, fresh] {
            model.zeroGrad()
            outs.append(Array(UnsafeBufferPointer(start: model.forward(x, t: t, batch: b), count: b * per)))
            model.backward(dout)
            grads.append(Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount)))
        }
        XCTAssertEqual(outs[0], outs[1], "the forward after an update")
        let differ = (0..<m.parameterCount).filter { grads[0][$0] != grads[1][$0] }
        XCTAssert(differ.isEmpty, "the backward after an update: \(differ.count) gradients differ from a fresh model's")
    }

    func testInferencePathsMatchTrainingForwardAndBatchChanges() throws {
        for tc in TimeCond.allCases {
            let config = Self.tinyTestConfig(timeCond: tc)
            let m = try LDAEModel(config: config, seed: 3)
            var rng = RNG(seed: 5)
            for info in m.tensors where info.name.contains("adaLN_modulation") {
                for i in 0..<info.count { m.params[info.offset + i] = Float(rng.normal()) * 0.3 }
            }
            let b = 3, per = config.tokens * config.tokenDim
            let x = FD.randn(b * per, &rng)
            let t: [Float] = [0, 0, 0]
            let train = Array(UnsafeBufferPointer(start: m.forward(x, t: t, batch: b), count: b * per))
            var feats = [Float](repeating: 0, count: b * config.encoderWidth)
            // inference chunks: the default (one chunk per core here), one image per chunk (each core's share in
            // several chunks: the offsets of x, t and out), and the whole batch layer by layer
            for chunk in [m.plan.chunkTokens, config.tokens, 0] {
                let mc = try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: chunk))
                var rec = [Float](repeating: 0, count: b * per)
                mc.reconstruct(x, t: nil, batch: b, out: &rec)
                XCTAssertLessThan(FD.maxAbsDiff(train, rec), 1e-5, "\(tc) chunk \(chunk)")
                // features = token mean of the training path's normed encoder output
                feats = [Float](repeating: .nan, count: b * config.encoderWidth)
                mc.features(x, t: nil, batch: b, out: &feats)
                let enc = m.acts!.encNorm
                for bi in 0..<b {
                    for c in 0..<config.encoderWidth {
                        var s: Float = 0
                        for ti in 0..<config.tokens { s += enc[(bi * config.tokens + ti) * config.encoderWidth + c] }
                        XCTAssertEqual(feats[bi * config.encoderWidth + c], s / Float(config.tokens), accuracy: 1e-5,
                                       "\(tc) chunk \(chunk)")
                    }
                }
            }
            // a smaller batch afterwards gives the same rows
            let out1 = Array(UnsafeBufferPointer(start: m.forward(Array(x[per...]), t: [0], batch: 1 + 0 * b), count: per))
            _ = out1
            let out2 = Array(UnsafeBufferPointer(start: m.forward(Array(x[per..<(2 * per)]), t: [0], batch: 1), count: per))
            XCTAssertLessThan(FD.maxAbsDiff(out2, Array(train[per..<(2 * per)])), 1e-5)
            if tc == .adaln {
                // t matters with adaLN
                var f2 = [Float](repeating: 0, count: b * config.encoderWidth), f3 = f2
                m.features(x, t: [0.5, 0.2, 0.9], batch: b, out: &f2)
                XCTAssertGreaterThan(FD.maxAbsDiff(feats, f2), 1e-4)
                // each chunk reads its own images' t
                try LDAEModel(copying: m, plan: ExecutionPlan(chunkTokens: config.tokens)).features(x, t: [0.5, 0.2, 0.9], batch: b, out: &f3)
                XCTAssertLessThan(FD.maxAbsDiff(f2, f3), 1e-5)
            }
        }
    }

    func testOverfitsOneBatchWithAdam() throws {
        var config = ModelPreset.micro.config
        config.imageSize = 16   // 16 tokens: keeps the debug-build test fast
        let m = try LDAEModel(config: config, seed: 1)
        var rng = RNG(seed: 2)
        let b = 2, n = b * config.tokens * config.tokenDim
        let x = FD.randn(n, &rng)
        let target = FD.randn(n, &rng)
        let t = [Float](repeating: 0, count: b)
        let mAdam = UnsafeMutablePointer<Float>.allocate(capacity: m.parameterCount)
        let vAdam = UnsafeMutablePointer<Float>.allocate(capacity: m.parameterCount)
        mAdam.initialize(repeating: 0, count: m.parameterCount); vAdam.initialize(repeating: 0, count: m.parameterCount)
        defer { mAdam.deallocate(); vAdam.deallocate() }
        let lr: Float = 1e-2, b1: Float = 0.9, b2: Float = 0.99
        var first = 0.0, last = 0.0
        let dout = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { dout.deallocate() }
        let t0 = Date()
        for step in 1...150 {
            m.zeroGrad()
            let out = m.forward(x, t: t, batch: b)
            var loss = 0.0
            for i in 0..<n { let d = out[i] - target[i]; loss += Double(d * d); dout[i] = 2 * d / Float(n) }
            loss /= Double(n)
            if step == 1 { first = loss }
            last = loss
            m.backward(dout)
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            let p = m.params, g = m.grads
            for i in 0..<m.parameterCount {
                mAdam[i] = b1 * mAdam[i] + (1 - b1) * g[i]
                vAdam[i] = b2 * vAdam[i] + (1 - b2) * g[i] * g[i]
                p[i] -= lr * (mAdam[i] / c1) / ((vAdam[i] / c2).squareRoot() + 1e-8)
            }
        }
        print("overfit: loss \(first) -> \(last) in \(Date().timeIntervalSince(t0)) s")
        XCTAssertGreaterThan(first, 0.5)
        XCTAssertLessThan(last, 0.02 * first, "loss \(first) -> \(last)")
    }

    func testInitFollowsMAE() throws {
        let m = try LDAEModel(config: ModelPreset.tiny.config, seed: 9)
        let qkv = m.tensor(named: "blocks.3.attn.qkv.weight")!
        let vals = UnsafeBufferPointer(start: m.params + qkv.offset, count: qkv.count)
        let bound = Float((6.0 / Double(192 + 576)).squareRoot())
        XCTAssert(vals.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(vals.map { abs($0) }.max()!, 0.95 * bound)
        let bias = m.tensor(named: "blocks.3.attn.qkv.bias")!
        XCTAssert(UnsafeBufferPointer(start: m.params + bias.offset, count: bias.count).allSatisfy { $0 == 0 })
        let ln = m.tensor(named: "norm.weight")!
        XCTAssert(UnsafeBufferPointer(start: m.params + ln.offset, count: ln.count).allSatisfy { $0 == 1 })
        let pe = m.tensor(named: "pos_embed")!
        let ref = SinCosPosEmbed.make(dim: 192, grid: 8)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: m.params + pe.offset, count: pe.count)), ref)
        // same seed, same weights
        let m2 = try LDAEModel(config: ModelPreset.tiny.config, seed: 9)
        XCTAssertEqual(memcmp(m.params, m2.params, 4 * m.parameterCount), 0)
    }

    func testInvalidConfigIsOneClearError() {
        var c = ModelPreset.tiny.config
        c.encoderHeads = 5
        XCTAssertThrowsError(try LDAEModel(config: c, seed: 0)) { XCTAssert("\($0)".contains("not divisible by encoder_heads")) }
    }
}
