import Foundation
import XCTest
@testable import Ldae

/// The classifier's passes against finite differences (pooled head, readout head, drop path), the chunked passes
/// against the whole-batch ones, inference against training, drop path's draws, and layer-wise lr decay.
final class FinetuneHeadTests: XCTestCase {
    static var config: ModelConfig { ModelTests.tinyTestConfig() }   // 8x8 images, patch 4: 4 tokens; width 16, depth 2

    /// A classifier with a random head (MAE's 2e-5 init would make every encoder gradient vanish).
    func classifier(_ spec: HeadSpec, dropPath: Double = 0, plan: ExecutionPlan = ExecutionPlan(threads: 1)) throws -> Classifier {
        let c = try Classifier(config: Self.config, spec: spec, dropPath: dropPath, seed: 5, plan: plan)
        var rng = RNG(seed: 9)
        for i in 0..<c.headCount { c.headParams[i] = Float(rng.normal()) * 0.5 }
        return c
    }

    /// Mean label-smoothed cross-entropy of a batch, and (analytic) its gradients in the classifier's buffers.
    func lossAndGradients(_ c: Classifier, _ x: [Float], _ y: [Int32], keep: DropPathMasks?) -> Double {
        c.zeroGrad()
        let n = y.count
        let z = c.forwardTrain(x, batch: n, keep: keep)
        let l = y.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.loss(logits: z, labels: $0.baseAddress!, n: n, classes: c.spec.classes, smoothing: 0.1,
                                     scale: 1 / Float(n), dLogits: c.logitGradient) / Double(n)
        }
        c.backward()
        return l
    }

    func gradientCheck(_ c: Classifier, keep: DropPathMasks?, unused: Set<String> = [], file: StaticString = #filePath, line: UInt = #line) {
        var rng = RNG(seed: 21)
        let n = 3, g = Self.config.geometry
        let x = FD.randn(n * g.valuesPerImage, &rng)
        let y: [Int32] = [0, 2, 1]
        _ = lossAndGradients(c, x, y, keep: keep)
        let enc = Array(UnsafeBufferPointer(start: c.model.grads, count: c.model.parameterCount))
        let head = Array(UnsafeBufferPointer(start: c.headGrads, count: c.headCount))
        func loss() -> Double {
            let z = c.forwardTrain(x, batch: n, keep: keep)
            return y.withUnsafeBufferPointer {
                SoftmaxCrossEntropy.loss(logits: z, labels: $0.baseAddress!, n: n, classes: c.spec.classes, smoothing: 0.1, scale: 1, dLogits: nil) / Double(n)
            }
        }
        func check(_ name: String, _ p: UnsafeMutablePointer<Float>, _ count: Int, _ grad: [Float], offset: Int) {
            let gnorm = grad[offset..<(offset + count)].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            if unused.contains(name) { XCTAssertEqual(gnorm, 0, "\(name) is not read by the head", file: file, line: line); return }
            XCTAssertGreaterThan(gnorm, 0, "\(name) got a zero gradient", file: file, line: line)
            let idx = FD.sampleIndices(count, 6, &rng), eps: Float = 3e-3
            let num: [Double] = idx.map { i in
                let q = p + i, old = q.pointee
                q.pointee = old + eps; let lp = loss()
                q.pointee = old - eps; let lm = loss()
                q.pointee = old
                return (lp - lm) / Double(2 * eps)
            }
            FD.assertClose(name, numeric: num, analytic: idx.map { Double(grad[offset + $0]) }, rtol: 3e-2, atol: 2e-4, file: file, line: line)
        }
        for t in c.encoderTensors { check(t.name, c.model.params + t.offset, t.count, enc, offset: t.offset) }
        let w = c.spec.classes * c.spec.features
        check("head.weight", c.headParams, w, head, offset: 0)
        check("head.bias", c.headParams + w, c.spec.classes, head, offset: w)
    }

    func testPooledHeadGradientsMatchFiniteDifferences() throws {
        let c = try classifier(.pooled(classes: 3, config: Classifier.encoderConfig(Self.config)))
        XCTAssertEqual(c.spec.features, 16)
        gradientCheck(c, keep: nil)
    }

    /// The readout head on block 1 (grid2 pooling, listed twice) and the embedding: block 2 and the final norm are
    /// not run, so they get no gradient.
    func testReadoutHeadGradientsMatchFiniteDifferences() throws {
        let enc = Classifier.encoderConfig(Self.config)
        let spec = HeadSpec(kind: .readout, layers: [.block(1), .embed, .block(1)], pooling: .grid2, classes: 3, config: enc)
        XCTAssertEqual(spec.features, 3 * 4 * 16)
        let c = try classifier(spec)
        let unused = Set(c.encoderTensors.map(\.name).filter { $0.hasPrefix("blocks.1.") || $0.hasPrefix("norm.") })
        XCTAssertEqual(unused.count, 14)   // block 2 (12 tensors) and the final norm
        gradientCheck(c, keep: nil, unused: unused)
    }

    /// Drop path: one image's attention branch dropped, another's MLP branch, the rest scaled by 1 / (1 - p).
    func testDropPathGradientsMatchFiniteDifferences() throws {
        let c = try classifier(.pooled(classes: 3, config: Classifier.encoderConfig(Self.config)), dropPath: 0.3)
        XCTAssertEqual(c.dropRates, [0, 0.3])
        let k = Float(1 / 0.7)
        let keep = DropPathMasks(attn: [[1, 1, 1], [0, k, k]], mlp: [[1, 1, 1], [k, 0, k]])
        gradientCheck(c, keep: keep)
        // a dropped branch is gone: dropping both branches of block 2 for every image is the one-block network
        var rng = RNG(seed: 4)
        let x = FD.randn(2 * Self.config.geometry.valuesPerImage, &rng)
        let off = DropPathMasks(attn: [[1, 1], [0, 0]], mlp: [[1, 1], [0, 0]])
        let dropped = Array(UnsafeBufferPointer(start: c.forwardTrain(x, batch: 2, keep: off), count: 6))
        // the same network with block 2's branches zeroed (proj and fc2 weights and biases): the branches add nothing
        let viaNorm = try classifier(.pooled(classes: 3, config: Classifier.encoderConfig(Self.config)))
        viaNorm.model.params.update(from: c.model.params, count: c.model.parameterCount)
        viaNorm.headParams.update(from: c.headParams, count: c.headCount)
        for t in viaNorm.encoderTensors where t.name.hasPrefix("blocks.1.") && (t.name.hasSuffix("proj.weight") || t.name.hasSuffix("fc2.weight") || t.name.hasSuffix("proj.bias") || t.name.hasSuffix("fc2.bias")) {
            (viaNorm.model.params + t.offset).update(repeating: 0, count: t.count)   // block 2's branches contribute nothing
        }
        let ref = Array(UnsafeBufferPointer(start: viaNorm.forwardTrain(x, batch: 2), count: 6))
        XCTAssertLessThan(FD.maxAbsDiff(dropped, ref), 1e-5)
    }

    func testDropPathDrawsAreSeededWithTheRightRatesAndScales() {
        let rates = [0, 0.1, 0.2]
        let a = DropPathMasks.draw(rates: rates, batch: 4000, seed: 1, step: 7)
        XCTAssertEqual(a, DropPathMasks.draw(rates: rates, batch: 4000, seed: 1, step: 7))
        XCTAssertNotEqual(a, DropPathMasks.draw(rates: rates, batch: 4000, seed: 1, step: 8))
        XCTAssertEqual(Set(a.attn[0]), [1]); XCTAssertEqual(Set(a.mlp[0]), [1])
        for (l, p) in rates.enumerated().dropFirst() {
            for m in [a.attn[l], a.mlp[l]] {
                XCTAssertEqual(Set(m), [0, Float(1 / (1 - p))])
                let dropped = Double(m.filter { $0 == 0 }.count) / 4000
                XCTAssertEqual(dropped, p, accuracy: 0.03)
            }
        }
        XCTAssertEqual(a.slice(10..<20).attn[2], Array(a.attn[2][10..<20]))
        let c = try? Classifier(config: ModelTests.tinyTestConfig(), spec: .pooled(classes: 2, config: Classifier.encoderConfig(ModelTests.tinyTestConfig())), dropPath: 0.1)
        XCTAssertEqual(c?.dropRates, [0, 0.1])   // timm: linspace(0, rate, depth)
    }

    /// Chunks of images on two threads give the whole-batch pass's logits and gradients; inference gives the
    /// training forward's logits.
    func testChunkedPassesAndInferenceAgree() throws {
        let spec = HeadSpec(kind: .readout, layers: [.block(2), .final], pooling: .grid2, classes: 4, config: Classifier.encoderConfig(Self.config))
        let whole = try classifier(spec, plan: ExecutionPlan(threads: 1, chunkTokens: 0))
        let chunked = try classifier(spec, plan: ExecutionPlan(threads: 2, chunkTokens: 8, minChunkTokens: 4))
        chunked.model.params.update(from: whole.model.params, count: whole.model.parameterCount)
        var rng = RNG(seed: 3)
        let n = 13, x = FD.randn(n * Self.config.geometry.valuesPerImage, &rng)
        let y = (0..<n).map { Int32($0 % 4) }
        let la = lossAndGradients(whole, x, y, keep: nil), lb = lossAndGradients(chunked, x, y, keep: nil)
        XCTAssertEqual(la, lb, accuracy: 1e-5 * max(1, abs(la)))
        let ga = Array(UnsafeBufferPointer(start: whole.model.grads, count: whole.model.encoderParameterCount))
        let gb = Array(UnsafeBufferPointer(start: chunked.model.grads, count: chunked.model.encoderParameterCount))
        XCTAssertLessThan(FD.maxAbsDiff(ga, gb), 1e-5)
        let train = Array(UnsafeBufferPointer(start: whole.forwardTrain(x, batch: n), count: n * 4))
        var inf = [Float](repeating: 0, count: n * 4)
        inf.withUnsafeMutableBufferPointer { chunked.logits(x, batch: n, out: $0.baseAddress!) }
        XCTAssertLessThan(FD.maxAbsDiff(train, inf), 1e-5)
    }

    func testLayerDecayMultipliersFollowMAE() throws {
        let L = 4, d = 0.75
        func s(_ n: String) -> Double { LayerDecay.scale(n, depth: L, decay: d) }
        XCTAssertEqual(s("patch_embed.proj.weight"), pow(d, 5), accuracy: 1e-15)
        XCTAssertEqual(s("pos_embed"), pow(d, 5), accuracy: 1e-15)
        XCTAssertEqual(s("blocks.0.attn.qkv.weight"), pow(d, 4), accuracy: 1e-15)
        XCTAssertEqual(s("blocks.3.mlp.fc2.bias"), d, accuracy: 1e-15)
        XCTAssertEqual(s("norm.weight"), 1); XCTAssertEqual(s("head.weight"), 1)
        XCTAssertEqual(LayerDecay.scale("blocks.1.attn.proj.weight", depth: L, decay: 1), 1)
        // the classifier's segments carry them, decay on linear weights only
        let c = try classifier(.pooled(classes: 3, config: Classifier.encoderConfig(Self.config)))
        let seg = LayerDecay.encoderSegments(c, decay: 0.5)
        XCTAssertEqual(seg.count, c.encoderTensors.count)
        for (t, sg) in zip(c.encoderTensors, seg) {
            XCTAssertEqual(sg.offset, t.offset); XCTAssertEqual(sg.decay, t.decay, t.name)
            XCTAssertEqual(sg.lrScale, LayerDecay.scale(t.name, depth: 2, decay: 0.5), t.name)
        }
        XCTAssertTrue(seg.contains { $0.offset == c.model.tensor(named: "pos_embed")!.offset })   // learned in fine-tuning
        // AdamW's first step moves each parameter by lr * scale (|m / sqrt(v)| = 1), and decays it by lr * scale * wd
        let opt = AdamW(count: 4, segments: [.init(offset: 0, count: 2, decay: false, lrScale: 0.25), .init(offset: 2, count: 2, decay: true, lrScale: 0.5)],
                        beta1: 0.9, beta2: 0.999, weightDecay: 0.1, eps: 0)
        var p: [Float] = [1, 1, 1, 1]
        let g: [Float] = [2, -3, 0.5, -1]
        p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { opt.update(params: pp.baseAddress!, grads: $0.baseAddress!, lr: 0.01, plan: ExecutionPlan(threads: 1)) } }
        XCTAssertEqual(p[0], 1 - 0.0025, accuracy: 1e-6); XCTAssertEqual(p[1], 1 + 0.0025, accuracy: 1e-6)
        XCTAssertEqual(p[2], 1 * (1 - 0.005 * 0.1) - 0.005, accuracy: 1e-6); XCTAssertEqual(p[3], 1 * (1 - 0.005 * 0.1) + 0.005, accuracy: 1e-6)
    }

    func testSoftmaxCrossEntropyWithLabelSmoothing() {
        let z: [Float] = [2, 0, -1, 0.5, 0.5, 0.5]
        let y: [Int32] = [0, 2]
        var d = [Float](repeating: 0, count: 6)
        let l = d.withUnsafeMutableBufferPointer { dp in SoftmaxCrossEntropy.loss(logits: z, labels: y, n: 2, classes: 3, smoothing: 0.3, scale: 1, dLogits: dp.baseAddress) }
        var want = 0.0
        for i in 0..<2 {
            let row = z[(3 * i)..<(3 * i + 3)].map(Double.init), lse = log(row.map { exp($0) }.reduce(0, +))
            for c in 0..<3 { want -= (c == Int(y[i]) ? 0.7 + 0.1 : 0.1) * (row[c] - lse) }
        }
        XCTAssertEqual(l, want, accuracy: 1e-9)
        for i in 0..<2 { XCTAssertEqual(d[(3 * i)..<(3 * i + 3)].reduce(0, +), 0, accuracy: 1e-6) }   // p - q sums to 0
        XCTAssertEqual(SoftmaxCrossEntropy.rank(logits: [0.5, 0.5, 0.5], label: 2, classes: 3), 2)   // ties favour the lower index
    }
}
