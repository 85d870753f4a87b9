import XCTest
@testable import Ldae
@testable import LdaeNumerics
@testable import LdaeSupport

/// Synthetic images [N, S, S, 3] with distinct, position-dependent values.
func trainTestImages(_ n: Int, size s: Int, seed: UInt64) -> [[UInt8]] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in (0..<(s * s * 3)).map { _ in UInt8(rng.below(256)) } }
}

final class TrainPartsTests: XCTestCase {
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

    func testLoaderOrderFlipAndBackgroundThread() throws {
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let S = 8, p = 4
        let imgs = trainTestImages(10, size: S, seed: 7)
        let set = try TestSupport.makeShards(dir: dir, images: imgs, labels: [Int32](repeating: -1, count: 10), imageSize: S, patchSize: p, perShard: 4)
        let g = set.geometry
        for budget in [1 << 30, 1] {   // in memory; streaming shard by shard
            let L = try BatchLoader(shards: set, batchSize: 3, seed: 5, flip: true, memoryBudget: budget)
            XCTAssertEqual(L.inMemory, budget > 1)
            XCTAssertEqual(L.stepsPerEpoch, 3)
            XCTAssertEqual(Set(L.order(epoch: 0)), Set(0..<10))
            XCTAssertNotEqual(L.order(epoch: 0), L.order(epoch: 1))
            XCTAssertEqual(L.order(epoch: 2), try BatchLoader(shards: set, batchSize: 3, seed: 5, flip: true, memoryBudget: budget).order(epoch: 2))
            XCTAssertNotEqual(L.order(epoch: 0), try BatchLoader(shards: set, batchSize: 3, seed: 6, flip: true, memoryBudget: budget).order(epoch: 0))
            // the background batches equal synchronous fills, and are the flipped images of the chosen indices
            L.start(from: 2, to: 8)
            var sawFlip = false, sawPlain = false
            for s in 2..<8 {
                let b = try L.next()
                XCTAssertEqual(b.step, s); XCTAssertEqual(b.epoch, s / 3)
                let idx = L.indices(step: s), fl = L.flips(step: s)
                for k in 0..<3 {
                    var img = imgs[idx[k]]
                    if fl[k] {
                        sawFlip = true
                        var f = img
                        for y in 0..<S { for x in 0..<S { for c in 0..<3 { f[(y * S + x) * 3 + c] = img[(y * S + (S - 1 - x)) * 3 + c] } } }
                        img = f
                    } else { sawPlain = true }
                    let want = g.patchify(img).map { PixelScaling.toFloat($0) }
                    for j in 0..<g.valuesPerImage { XCTAssertEqual(b.x0[k * g.valuesPerImage + j], want[j]) }
                }
            }
            XCTAssertTrue(sawFlip && sawPlain)
            XCTAssertThrowsError(try L.next())
            L.stop()
        }
        XCTAssertThrowsError(try BatchLoader(shards: set, batchSize: 11, seed: 0, flip: false)) { XCTAssertTrue("\($0)".contains("fewer than one batch")) }
    }

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

    func testLineChartRendersSeriesAxesAndText() throws {
        var chart = LineChart(width: 320, height: 200, title: "loss", xLabel: "step", yLabel: "loss")
        chart.series = [.init(points: (0..<50).map { (Double($0), 1 / Double($0 + 1)) }, color: (200, 30, 30), thickness: 2)]
        XCTAssertEqual(LineChart.ticks(0...1, count: 5), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map { $0 }, accuracy: 1e-9)
        XCTAssertEqual(LineChart.label(0.25), "0.25"); XCTAssertEqual(LineChart.label(1000), "1000"); XCTAssertEqual(LineChart.label(2.5e-5), "2.50e-05")
        let px = chart.render()
        XCTAssertEqual(px.count, 320 * 200 * 3)
        func at(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) { let i = (y * 320 + x) * 3; return (px[i], px[i + 1], px[i + 2]) }
        // the curve's first point (x = 0, y = max) is at the top-left corner of the plot area
        XCTAssertTrue(at(chart.left + 1, chart.top + 1) == (200, 30, 30))
        // the last point is near the bottom right
        let bottomY = 200 - chart.bottom - 1
        XCTAssertTrue((bottomY - 4...bottomY).contains { at(320 - chart.right - 1, $0) == (200, 30, 30) })
        // the x axis is drawn, text was drawn in the title band, the background is white elsewhere
        XCTAssertTrue(at(160, 200 - chart.bottom) == (40, 40, 40))
        XCTAssertTrue((0..<320).contains { x in (6..<20).contains { at(x, $0) == (40, 40, 40) } })
        XCTAssertTrue(at(319, 199) == (255, 255, 255))
        let dir = TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try chart.write(dir + "/c.png")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/c.png"))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    func testLossCurveClipsTheFirstSteps() throws {
        // loss 14 for the first steps then ~1: the y axis stops near the later curve, the start is drawn at the top
        let log = (0..<400).map { i in
            TrainLogLine(step: i, epoch: 0, loss: i < 10 ? 14 : 1 + 0.2 * Double(400 - i) / 400, lr: 1e-3, gradNorm: 1, imagesPerS: 1, seconds: 1)
        }
        let c = TrainPlots.lossCurve(log, title: "t")
        let (_, yr) = c.ranges()
        XCTAssertLessThan(yr.upperBound, 2, "\(yr)")
        XCTAssertGreaterThan(yr.upperBound, 1.19)
        XCTAssertTrue(c.title.contains("clipped"))
        // a run without a spike is not clipped
        let flat = TrainPlots.lossCurve(Array(log.dropFirst(10)), title: "t")
        XCTAssertNil(flat.yMax)
        XCTAssertEqual(flat.ranges().y.upperBound, 1 + 0.2 * 390 / 400, accuracy: 1e-9)
        // clamped points are drawn inside the plot area
        let px = c.render()
        XCTAssertEqual(px.count, c.width * c.height * 3)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

final class TrainManifestCodingTests: XCTestCase {
    /// TrainConfig and Manifest survive the snake_case JSON round trip (acronym fields like base_lr, pca_sha256).
    func testConfigAndManifestRoundTrip() throws {
        var tc = TrainConfig(); tc.baseLR = 3e-4; tc.minLR = 1e-6; tc.seed = 9
        let back = try JSON.decode(TrainConfig.self, from: try JSON.encode(tc), file: "x")
        XCTAssertEqual(back, tc)
        XCTAssertTrue(String(decoding: try JSON.encode(tc), as: UTF8.self).contains("\"base_lr\""))
        let m = Manifest(name: "n", model: ModelPreset.micro.config,
                         tokenizer: .init(kind: .pca, latentDim: 16, patchSize: 4, pcaFile: "pca.h5", pcaSHA256: "ff"),
                         training: tc, data: .init(indexSHA256: "ee", images: 3, sources: ["a"], classNames: []), seed: 9,
                         steps: 5, epochs: 1, finalLoss: 0.5, parameterCount: 10, encoderParameterCount: 6, trainSeconds: 1, weightsDtype: "f32")
        let mb = try JSON.decode(Manifest.self, from: try JSON.encode(m), file: "m")
        XCTAssertEqual(mb.tokenizer.pcaSHA256, "ff"); XCTAssertEqual(mb.data.indexSHA256, "ee"); XCTAssertEqual(mb.training, tc)
    }
}
