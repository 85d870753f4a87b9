import Foundation
import XCTest
@testable import Ldae
@testable import LdaeNumerics

/// Linear probe (L-BFGS logistic regression), k-NN and PSNR on data whose answer is known by construction.
final class EvalProbeTests: XCTestCase {
    /// Gaussian blobs: class c centred at a random mean with `spread` noise; returns x [n, f], y [n].
    func blobs(n: Int, f: Int, k: Int, spread: Float, seed: UInt64, centers: [Float]? = nil) -> (x: [Float], y: [Int32], centers: [Float]) {
        var rng = RNG(seed: seed)
        var cRng = RNG(seed: 1234)
        let c = centers ?? (0..<(k * f)).map { _ in Float(cRng.normal()) * 2 }
        var x = [Float](repeating: 0, count: n * f), y = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let cls = rng.below(k); y[i] = Int32(cls)
            for j in 0..<f { x[i * f + j] = c[cls * f + j] + spread * Float(rng.normal()) + 5 }   // offset: standardisation matters
        }
        return (x, y, c)
    }

    func testGradientMatchesFiniteDifferences() {
        let (x, y, _) = blobs(n: 40, f: 5, k: 3, spread: 1, seed: 1)
        var rng = RNG(seed: 9)
        let np = 5 * 3 + 3
        let p = (0..<np).map { _ in Float(rng.normal()) * 0.3 }
        var logits = [Float](repeating: 0, count: 40 * 3), g = [Float](repeating: 0, count: np)
        func loss(_ q: [Float]) -> Double {
            var scratch = [Float](repeating: 0, count: np)
            return x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in q.withUnsafeBufferPointer { pp in
                logits.withUnsafeMutableBufferPointer { lp in scratch.withUnsafeMutableBufferPointer { gp in
                    LogisticRegression.lossAndGrad(x: xp.baseAddress!, y: yp.baseAddress!, n: 40, f: 5, k: 3, l2: 0.05,
                                                   params: pp.baseAddress!, logits: lp.baseAddress!, grad: gp.baseAddress!, plan: .automatic)
                } } } } }
        }
        _ = x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in p.withUnsafeBufferPointer { pp in
            logits.withUnsafeMutableBufferPointer { lp in g.withUnsafeMutableBufferPointer { gp in
                LogisticRegression.lossAndGrad(x: xp.baseAddress!, y: yp.baseAddress!, n: 40, f: 5, k: 3, l2: 0.05,
                                               params: pp.baseAddress!, logits: lp.baseAddress!, grad: gp.baseAddress!, plan: .automatic)
            } } } } }
        // Naive loss in float64 as a reference for the value.
        var ref = 0.0
        for i in 0..<40 {
            var z = [Double](repeating: 0, count: 3)
            for c in 0..<3 { z[c] = Double(p[15 + c]); for j in 0..<5 { z[c] += Double(x[i * 5 + j]) * Double(p[j * 3 + c]) } }
            let m = z.max()!; let lse = m + log(z.map { exp($0 - m) }.reduce(0, +))
            ref += lse - z[Int(y[i])]
        }
        ref = ref / 40 + 0.5 * 0.05 * p[0..<15].reduce(0.0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(loss(p), ref, accuracy: 1e-4 * max(1, abs(ref)))
        for i in 0..<np {
            let h: Float = 1e-2
            var a = p, b = p; a[i] += h; b[i] -= h
            let fd = (loss(a) - loss(b)) / Double(2 * h)
            XCTAssertEqual(Double(g[i]), fd, accuracy: 2e-3 * max(1, abs(fd)), "param \(i)")
        }
    }

    func testLBFGSReachesTheOptimumOfAConvexProblem() {
        let (x, y, _) = blobs(n: 300, f: 8, k: 4, spread: 2.5, seed: 2)
        var lr = LogisticRegression(dim: 8, classes: 4)
        let r1 = lr.fit(x, labels: y, l2: 1e-2, maxIterations: 300, tolerance: 1e-7)
        // At a strongly convex optimum the gradient vanishes, and more iterations cannot lower the loss.
        XCTAssertLessThan(r1.gradNorm, 1e-3)
        var lr2 = LogisticRegression(dim: 8, classes: 4)
        let r2 = lr2.fit(x, labels: y, l2: 1e-2, maxIterations: 5)
        XCTAssertGreaterThan(r2.loss, r1.loss - 1e-9)
        XCTAssertLessThan(r1.loss, log(4.0))  // better than the uniform predictor
    }

    func testProbeOnSeparableBlobsBeatsChanceByFar() throws {
        let k = 5
        let tr = blobs(n: 600, f: 16, k: k, spread: 0.7, seed: 3)
        let te = blobs(n: 200, f: 16, k: k, spread: 0.7, seed: 4, centers: tr.centers)
        let r = try LinearProbe().run(train: tr.x, trainLabels: tr.y, test: te.x, testLabels: te.y, dim: 16, classes: k)
        XCTAssertGreaterThan(r.top1, 0.95)
        XCTAssertEqual(r.top5, 1.0)
        XCTAssertEqual(r.heldOutTop1.count, LinearProbe.Settings().l2Grid.count)
        XCTAssertTrue(LinearProbe.Settings().l2Grid.contains(r.l2))
        // Labels unrelated to the features: near chance on test.
        var rng = RNG(seed: 77)
        let shuffled = tr.y.map { _ in Int32(rng.below(k)) }
        let rr = try LinearProbe().run(train: tr.x, trainLabels: shuffled, test: te.x, testLabels: te.y, dim: 16, classes: k)
        XCTAssertLessThan(rr.top1, 0.45)
    }

    func testProbeRejectsUnlabeledImages() {
        XCTAssertThrowsError(try LinearProbe().run(train: [0, 1, 2, 3], trainLabels: [0, -1], test: [1, 2], testLabels: [0], dim: 2, classes: 2))
    }

    func testTopKAccuracy() {
        // 2 images, 3 classes
        let s: [Float] = [0.1, 0.7, 0.2,   0.5, 0.3, 0.2]
        XCTAssertEqual(topKAccuracy(scores: s, labels: [1, 1], classes: 3, top: 1), 0.5)
        XCTAssertEqual(topKAccuracy(scores: s, labels: [2, 1], classes: 3, top: 2), 1.0)
        XCTAssertEqual(topKAccuracy(scores: s, labels: [0, 2], classes: 3, top: 2), 0.0)
        XCTAssertEqual(topKAccuracy(scores: s, labels: [0, 2], classes: 3, top: 5), 1.0)
    }

    func testStandardizerUsesTrainStatistics() {
        let x: [Float] = [1, 10, 3, 20, 5, 30]   // 3 x 2
        let st = Standardizer(fit: x, count: 3, dim: 2)
        var a = x; st.apply(&a)
        XCTAssertEqual(a[0], -Float(2 / (8.0 / 3).squareRoot()), accuracy: 1e-4)
        XCTAssertEqual(a[2], 0, accuracy: 1e-5)
        var t: [Float] = [3, 40]; st.apply(&t)   // test data is mapped with the train statistics
        XCTAssertEqual(t[1], Float(20 / (200.0 / 3).squareRoot()), accuracy: 1e-4)
    }

    func testKNNAgainstNaiveReference() {
        let tr = blobs(n: 120, f: 6, k: 3, spread: 1.5, seed: 5)
        let te = blobs(n: 30, f: 6, k: 3, spread: 1.5, seed: 6, centers: tr.centers)
        var knn = KNNClassifier(); knn.settings.k = 7
        let s = knn.scores(train: tr.x, trainLabels: tr.y, test: te.x, dim: 6, classes: 3)
        // naive: full sort of cosine similarities
        func unit(_ v: ArraySlice<Float>) -> [Double] { let n = v.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot(); return v.map { Double($0) / n } }
        for i in 0..<30 {
            let q = unit(te.x[(i * 6)..<(i * 6 + 6)])
            let sims = (0..<120).map { j -> (Double, Int) in (zip(q, unit(tr.x[(j * 6)..<(j * 6 + 6)])).map(*).reduce(0, +), j) }
                .sorted { $0.0 > $1.0 }
            var votes = [Double](repeating: 0, count: 3)
            for (sim, j) in sims.prefix(7) { votes[Int(tr.y[j])] += exp(sim / 0.07) }
            for c in 0..<3 { XCTAssertEqual(Double(s[i * 3 + c]), votes[c], accuracy: 1e-3 * max(1, votes[c])) }
        }
        let r = KNNClassifier().run(train: tr.x, trainLabels: tr.y, test: te.x, testLabels: te.y, dim: 6, classes: 3)
        XCTAssertGreaterThan(r.top1, 0.7)
        XCTAssertEqual(r.k, 20)
    }

    func testKNNOnToyClusters() {
        // Two directions; cosine ignores the norm.
        let train: [Float] = [1, 0, 2, 0.1, 5, -0.1, 0, 1, 0.1, 3, -0.1, 0.5]
        let labels: [Int32] = [0, 0, 0, 1, 1, 1]
        var knn = KNNClassifier(); knn.settings.k = 3
        let r = knn.run(train: train, trainLabels: labels, test: [10, 0.5, 0.2, 7], testLabels: [0, 1], dim: 2, classes: 2)
        XCTAssertEqual(r.top1, 1.0)
    }

    func testPSNRMath() {
        // [-1, 1] -> [0, 1]: a constant error of 0.2 in pixel scaling is 0.1 on [0, 1]: MSE 0.01, PSNR 20 dB.
        let a = [Float](repeating: 0, count: 12), b = [Float](repeating: 0.2, count: 12)
        XCTAssertEqual(PSNR.perImage(b, reference: a, count: 1)[0], 20, accuracy: 1e-4)
        // Clipping: values beyond [-1, 1] count as the nearest valid pixel.
        XCTAssertEqual(PSNR.perImage([Float](repeating: 3, count: 4), reference: [Float](repeating: 1, count: 4), count: 1)[0], 100)
        // Per-image values, then averaged by the caller: image 2 has MSE 0.04 -> 13.98 dB.
        let p = PSNR.perImage(b + [Float](repeating: 0.4, count: 12), reference: a + a, count: 2)
        XCTAssertEqual(p[1], 10 * log10(1 / 0.04), accuracy: 1e-4)
        XCTAssertEqual(PSNR.fromMSE(1e-3), 30, accuracy: 1e-9)
    }

    func testNPYRoundTripAndProbeCLI() throws {
        let tmp = TestSupport.tempDir()
        let k = 3
        let tr = blobs(n: 90, f: 4, k: k, spread: 0.5, seed: 10), te = blobs(n: 30, f: 4, k: k, spread: 0.5, seed: 11, centers: tr.centers)
        try NPY.write(tr.x, shape: [90, 4], to: tmp + "/tr.npy")
        try AtomicFile.write(NPY.encode(tr.y, shape: [90]), to: tmp + "/tr.labels.npy")
        try NPY.write(te.x, shape: [30, 4], to: tmp + "/te.npy")
        try AtomicFile.write(NPY.encode(te.y, shape: [30]), to: tmp + "/te.labels.npy")
        let (x, y, f) = try NPY.readFeatures(tmp + "/tr.npy")
        XCTAssertEqual(f, 4); XCTAssertEqual(x, tr.x); XCTAssertEqual(y, tr.y)
        XCTAssertThrowsError(try NPY.read(tmp + "/tr.labels.npy.missing"))
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: tmp + "/bad.npy"))
        XCTAssertThrowsError(try NPY.read(tmp + "/bad.npy")) { XCTAssertTrue("\($0)".contains("bad.npy")) }
        let (code, out, err) = try TestSupport.run("ldae-zoo", ["probe", tmp + "/tr.npy", tmp + "/te.npy", "--json", "--knn-k", "5"])
        XCTAssertEqual(code, 0, err)
        let j = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        XCTAssertGreaterThan((j["linear_probe"] as! [String: Any])["top1"] as! Double, 0.9)
        XCTAssertEqual(j["classes"] as? Int, 3)
        if let py = TestSupport.pythonWithH5py {   // numpy reads what we write
            let o = try TestSupport.runPython(py, "import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype, a.shape)", args: [tmp + "/tr.npy"])
            XCTAssertEqual(o.trimmingCharacters(in: .whitespacesAndNewlines), "float32 (90, 4)")
        }
    }

    /// Above the parallel grain the softmax rows are split over cores: the loss and bias gradient must equal a
    /// naive float64 computation.
    func testParallelLossMatchesNaiveOnManyRows() {
        let n = 6000, f = 3, k = 4
        let (x, y, _) = blobs(n: n, f: f, k: k, spread: 1, seed: 21)
        var rng = RNG(seed: 5)
        let p = (0..<(f * k + k)).map { _ in Float(rng.normal()) * 0.2 }
        var logits = [Float](repeating: 0, count: n * k), g = [Float](repeating: 0, count: f * k + k)
        let loss = LogisticRegression.lossAndGrad(x: x, y: y, n: n, f: f, k: k, l2: 0, params: p, logits: &logits, grad: &g, plan: .automatic)
        var ref = 0.0, gb = [Double](repeating: 0, count: k)
        for i in 0..<n {
            var z = (0..<k).map { c in Double(p[f * k + c]) + (0..<f).reduce(0.0) { $0 + Double(x[i * f + $1]) * Double(p[$1 * k + c]) } }
            let m = z.max()!; let s = z.map { exp($0 - m) }.reduce(0, +)
            ref += m + log(s) - z[Int(y[i])]
            z = z.map { exp($0 - m) / s }
            for c in 0..<k { gb[c] += (z[c] - (c == Int(y[i]) ? 1 : 0)) / Double(n) }
        }
        XCTAssertEqual(loss, ref / Double(n), accuracy: 1e-4)
        for c in 0..<k { XCTAssertEqual(Double(g[f * k + c]), gb[c], accuracy: 1e-5) }
    }
}
