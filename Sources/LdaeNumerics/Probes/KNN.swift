import Foundation

/// Weighted k-NN classifier on cosine similarity (DINO's protocol, Wu et al. 2018): features are L2-normalised,
/// the k most similar training images vote for their class with weight exp(sim / temperature).
public struct KNNClassifier: Sendable {
    public struct Settings: Codable, Sendable {
        public var k: Int = 20
        public var temperature: Double = 0.07
        public init() {}
    }
    public struct Result: Codable, Sendable {
        public var top1: Double
        public var top5: Double
        public var k: Int
        public var temperature: Double
        public var seconds: Double
    }

    public var settings: Settings
    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Rows of x [n, f] scaled to unit L2 norm (zero rows stay zero).
    public static func normalizeRows(_ x: inout [Float], dim f: Int) {
        let n = x.count / max(f, 1)
        for i in 0..<n {
            var s: Double = 0
            for j in 0..<f { s += Double(x[i * f + j]) * Double(x[i * f + j]) }
            let inv = s > 0 ? Float(1 / s.squareRoot()) : 0
            for j in 0..<f { x[i * f + j] *= inv }
        }
    }

    /// Class vote scores [nTest, K] for test features given train features and labels (labels in 0..<K).
    public func scores(train: [Float], trainLabels: [Int32], test: [Float], dim f: Int, classes kc: Int) -> [Float] {
        let n = trainLabels.count, m = test.count / max(f, 1)
        require(train.count == n * f && test.count == m * f)
        var tr = train, te = test
        KNNClassifier.normalizeRows(&tr, dim: f)
        KNNClassifier.normalizeRows(&te, dim: f)
        let k = min(settings.k, n)
        var out = [Float](repeating: 0, count: m * kc)
        if n == 0 || m == 0 { return out }
        let chunk = max(1, min(m, (32 << 20) / max(n, 1) / 4))   // ~32 MB of similarities at a time
        var sims = [Float](repeating: 0, count: chunk * n)
        var heapIdx = [Int](repeating: 0, count: k), heapVal = [Float](repeating: 0, count: k)
        var start = 0
        while start < m {
            let b = min(chunk, m - start)
            // sims [b, n] = te[start..<start+b] tr^T
            te.withUnsafeBufferPointer { tp in tr.withUnsafeBufferPointer { rp in sims.withUnsafeMutableBufferPointer { sp in
                BLAS.sgemm(transA: false, transB: true, m: b, n: n, k: f, alpha: 1, a: tp.baseAddress! + start * f, lda: f,
                           b: rp.baseAddress!, ldb: f, beta: 0, c: sp.baseAddress!, ldc: n)
            } } }
            for i in 0..<b {
                // top-k by a min-heap of size k (ties: lower train index wins)
                var size = 0
                let row = i * n
                for j in 0..<n {
                    let v = sims[row + j]
                    if size < k {
                        heapVal[size] = v; heapIdx[size] = j; size += 1
                        var c = size - 1
                        while c > 0 { let p = (c - 1) / 2; if heapVal[p] > heapVal[c] { heapVal.swapAt(p, c); heapIdx.swapAt(p, c); c = p } else { break } }
                    } else if v > heapVal[0] {
                        heapVal[0] = v; heapIdx[0] = j
                        var c = 0
                        while true {
                            let l = 2 * c + 1, r = l + 1
                            var s = c
                            if l < k && heapVal[l] < heapVal[s] { s = l }
                            if r < k && heapVal[r] < heapVal[s] { s = r }
                            if s == c { break }
                            heapVal.swapAt(s, c); heapIdx.swapAt(s, c); c = s
                        }
                    }
                }
                let o = (start + i) * kc
                for q in 0..<size {
                    out[o + Int(trainLabels[heapIdx[q]])] += Float(Foundation.exp(Double(heapVal[q]) / settings.temperature))
                }
            }
            start += b
        }
        return out
    }

    public func run(train: [Float], trainLabels: [Int32], test: [Float], testLabels: [Int32], dim f: Int, classes kc: Int) -> Result {
        let t0 = Date()
        let s = scores(train: train, trainLabels: trainLabels, test: test, dim: f, classes: kc)
        return Result(top1: topKAccuracy(scores: s, labels: testLabels, classes: kc, top: 1),
                      top5: topKAccuracy(scores: s, labels: testLabels, classes: kc, top: 5),
                      k: min(settings.k, trainLabels.count), temperature: settings.temperature,
                      seconds: Date().timeIntervalSince(t0))
    }
}
