import Foundation

/// Feature standardisation with the training split's statistics: (x - mean) / sqrt(var + eps), per feature.
/// This is MAE's linear-probe BatchNorm without affine parameters, frozen at the training statistics.
public struct Standardizer: Sendable {
    public var mean: [Float]
    public var invStd: [Float]
    public static let eps: Double = 1e-6

    /// Statistics of x [n, f] (float64 accumulation).
    public init(fit x: [Float], count n: Int, dim f: Int) {
        precondition(x.count == n * f && n > 0)
        var m = [Double](repeating: 0, count: f), v = [Double](repeating: 0, count: f)
        for i in 0..<n { for j in 0..<f { m[j] += Double(x[i * f + j]) } }
        for j in 0..<f { m[j] /= Double(n) }
        for i in 0..<n { for j in 0..<f { let d = Double(x[i * f + j]) - m[j]; v[j] += d * d } }
        mean = m.map { Float($0) }
        invStd = v.map { Float(1 / (($0 / Double(n)) + Standardizer.eps).squareRoot()) }
    }

    /// Applies in place to x [n, f].
    public func apply(_ x: inout [Float]) {
        let f = mean.count
        precondition(x.count % max(f, 1) == 0)
        let n = x.count / f
        for i in 0..<n { for j in 0..<f { x[i * f + j] = (x[i * f + j] - mean[j]) * invStd[j] } }
    }
}

/// Multinomial logistic regression fitted full-batch with L-BFGS (a fixed iteration budget), the linear probe.
///   logits [N, K] = X [N, F] W [F, K] + b [K]
///   loss = mean_n CE(softmax(logits_n), y_n) + (l2 / 2) ||W||^2      (the bias is not decayed)
/// Matrix products go through BLAS sgemm; the optimiser state is float64.
public struct LogisticRegression: Sendable {
    public var weights: [Float]   // [F, K]
    public var bias: [Float]      // [K]
    public let dim: Int
    public let classes: Int

    public init(dim: Int, classes: Int) {
        self.dim = dim; self.classes = classes
        weights = [Float](repeating: 0, count: dim * classes); bias = [Float](repeating: 0, count: classes)
    }

    public struct FitResult: Sendable {
        public var iterations: Int
        public var evaluations: Int
        public var loss: Double
        public var gradNorm: Double
    }

    /// Loss and gradient at params (W then b, float32 [F*K + K]) on x [n, F], y [n].
    /// `logits` [n, K] and `gradOut` are scratch/outputs. Returns the loss.
    static func lossAndGrad(x: UnsafePointer<Float>, y: UnsafePointer<Int32>, n: Int, f: Int, k: Int, l2: Double,
                            params: UnsafePointer<Float>, logits: UnsafeMutablePointer<Float>,
                            grad: UnsafeMutablePointer<Float>) -> Double {
        let w = params, b = params + f * k
        // Rows in chunks on all cores, each chunk with single-threaded sgemms (these are thin: [n, F] x [F, K]):
        // OpenBLAS's own threading on such shapes slowed the probe ~10x when other processes shared the cores.
        // Per chunk: logits = X W; softmax in place, CE; logits becomes dL/dlogits = (P - Y) / n; the chunk's
        // dW partial X_c^T dlogits_c. Loss, bias and dW partial sums are reduced in chunk order (deterministic).
        let invN = 1 / Float(n)
        let gb = grad + f * k
        let chunks = Parallel.workers
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks * (k + 1))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: chunks * (k + 1))
        let dwPart = UnsafeMutablePointer<Float>.allocate(capacity: chunks * f * k)   // [chunks, F, K]
        defer { dwPart.deallocate() }
        dwPart.initialize(repeating: 0, count: chunks * f * k)
        let lg = logits
        Parallel.withSingleThreadedBLAS {
            Parallel.chunksIndexed(n, grain: 2048) { c, lo, hi in
                BLAS.sgemm(transA: false, transB: false, m: hi - lo, n: k, k: f, alpha: 1, a: x + lo * f, lda: f, b: w, ldb: k,
                           beta: 0, c: lg + lo * k, ldc: k)
                let acc = partial + c * (k + 1)            // [0] loss, [1...k] bias gradient
                for i in lo..<hi {
                    let row = lg + i * k
                    var mx = -Float.infinity
                    for j in 0..<k { row[j] += b[j]; mx = max(mx, row[j]) }
                    var s: Float = 0
                    for j in 0..<k { let e = expf(row[j] - mx); row[j] = e; s += e }
                    let inv = 1 / s
                    let yi = Int(y[i])
                    acc[0] -= Double(logf(max(row[yi] * inv, 1e-30)))
                    for j in 0..<k {
                        var p = row[j] * inv
                        if j == yi { p -= 1 }
                        row[j] = p * invN
                        acc[1 + j] += Double(row[j])
                    }
                }
                BLAS.sgemm(transA: true, transB: false, m: f, n: k, k: hi - lo, alpha: 1, a: x + lo * f, lda: f, b: lg + lo * k, ldb: k,
                           beta: 0, c: dwPart + c * f * k, ldc: k)
            }
        }
        var loss = 0.0
        for j in 0..<k { gb[j] = 0 }
        for c in 0..<chunks {
            loss += partial[c * (k + 1)]
            for j in 0..<k { gb[j] += Float(partial[c * (k + 1) + 1 + j]) }
        }
        loss /= Double(n)
        // dW = X^T dlogits + l2 W  (the chunks' partials, in chunk order)
        for j in 0..<(f * k) { grad[j] = Float(l2) * w[j] }
        for c in 0..<chunks {
            let src = dwPart + c * f * k
            for j in 0..<(f * k) { grad[j] += src[j] }
        }
        var sq = 0.0
        for j in 0..<(f * k) { sq += Double(w[j]) * Double(w[j]) }
        return loss + 0.5 * l2 * sq
    }

    /// Fits on x [n, F] (already standardised), labels y in 0..<K. L-BFGS (history m), backtracking Armijo line
    /// search, at most `maxIterations` iterations; stops early when every gradient component is below `tolerance`
    /// in magnitude (scipy's pgtol, as scikit-learn's lbfgs uses with tol = 1e-4) or the loss stops decreasing.
    @discardableResult
    public mutating func fit(_ x: [Float], labels y: [Int32], l2: Double, maxIterations: Int = 100,
                             history m: Int = 10, tolerance: Double = 1e-4) -> FitResult {
        let f = dim, k = classes, n = y.count
        precondition(x.count == n * f && n > 0)
        let np = f * k + k
        var p = [Float](weights + bias)
        var g = [Float](repeating: 0, count: np)
        var logits = [Float](repeating: 0, count: n * k)
        var evals = 0
        func eval(_ params: [Float], _ grad: inout [Float]) -> Double {
            evals += 1
            return x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in params.withUnsafeBufferPointer { pp in
                logits.withUnsafeMutableBufferPointer { lp in grad.withUnsafeMutableBufferPointer { gp in
                    LogisticRegression.lossAndGrad(x: xp.baseAddress!, y: yp.baseAddress!, n: n, f: f, k: k, l2: l2,
                                                   params: pp.baseAddress!, logits: lp.baseAddress!, grad: gp.baseAddress!)
                } }
            } } }
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double { var s = 0.0; for i in 0..<a.count { s += a[i] * b[i] }; return s }
        var loss = eval(p, &g)
        var gd = g.map(Double.init)
        var S: [[Double]] = [], Y: [[Double]] = [], rho: [Double] = []
        var it = 0
        var gnorm = dot(gd, gd).squareRoot()
        func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, $1.magnitude) } }
        var gmax = maxAbs(gd)
        var trial = [Float](repeating: 0, count: np)
        var gNew = [Float](repeating: 0, count: np)
        while it < maxIterations && gmax > tolerance {
            // Two-loop recursion: d = -H g.
            var q = gd
            var alpha = [Double](repeating: 0, count: S.count)
            for i in stride(from: S.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(S[i], q)
                for j in 0..<np { q[j] -= alpha[i] * Y[i][j] }
            }
            let gamma = S.isEmpty ? 1 / max(gnorm, 1e-12) : dot(S.last!, Y.last!) / dot(Y.last!, Y.last!)
            for j in 0..<np { q[j] *= gamma }
            for i in 0..<S.count {
                let beta = rho[i] * dot(Y[i], q)
                for j in 0..<np { q[j] += S[i][j] * (alpha[i] - beta) }
            }
            var d = q.map { -$0 }
            var slope = dot(gd, d)
            if !(slope < 0) { // not a descent direction: restart from steepest descent
                S.removeAll(); Y.removeAll(); rho.removeAll()
                d = gd.map { -$0 / max(gnorm, 1e-12) }; slope = dot(gd, d)
            }
            // Backtracking line search (Armijo, c1 = 1e-4).
            var step = 1.0
            var newLoss = loss
            var accepted = false
            for _ in 0..<30 {
                for j in 0..<np { trial[j] = Float(Double(p[j]) + step * d[j]) }
                newLoss = eval(trial, &gNew)
                if newLoss.isFinite && newLoss <= loss + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            it += 1
            if !accepted { break }
            let gdNew = gNew.map(Double.init)
            var s = [Double](repeating: 0, count: np), yv = [Double](repeating: 0, count: np)
            for j in 0..<np { s[j] = Double(trial[j]) - Double(p[j]); yv[j] = gdNew[j] - gd[j] }
            let sy = dot(s, yv)
            if sy > 1e-10 * dot(yv, yv).squareRoot() * dot(s, s).squareRoot() && sy > 0 {
                S.append(s); Y.append(yv); rho.append(1 / sy)
                if S.count > m { S.removeFirst(); Y.removeFirst(); rho.removeFirst() }
            }
            swap(&p, &trial)
            gd = gdNew
            let improvement = loss - newLoss
            loss = newLoss
            gnorm = dot(gd, gd).squareRoot()
            gmax = maxAbs(gd)
            if improvement.magnitude <= 1e-10 * max(1, loss.magnitude) { break }
        }
        weights = Array(p[0..<(f * k)]); bias = Array(p[(f * k)...])
        return FitResult(iterations: it, evaluations: evals, loss: loss, gradNorm: gnorm)
    }

    /// Logits [n, K] for x [n, F].
    public func logits(_ x: [Float]) -> [Float] {
        let n = x.count / dim
        var out = [Float](repeating: 0, count: n * classes)
        for i in 0..<n { for j in 0..<classes { out[i * classes + j] = bias[j] } }
        if n == 0 { return out }
        x.withUnsafeBufferPointer { xp in weights.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            BLAS.sgemm(transA: false, transB: false, m: n, n: classes, k: dim, alpha: 1, a: xp.baseAddress!, lda: dim,
                       b: wp.baseAddress!, ldb: classes, beta: 1, c: op.baseAddress!, ldc: classes)
        } } }
        return out
    }
}

/// Top-k accuracy (fraction in [0, 1]) of scores [n, K] against labels; k is capped at K.
public func topKAccuracy(scores: [Float], labels: [Int32], classes k: Int, top: Int) -> Double {
    let n = labels.count
    precondition(scores.count == n * k)
    guard n > 0 else { return 0 }
    let t = min(top, k)
    var hits = 0
    for i in 0..<n {
        let y = Int(labels[i])
        let sy = scores[i * k + y]
        // rank of the true class = how many classes score strictly higher (ties favour the lower index)
        var higher = 0
        for j in 0..<k where j != y {
            let s = scores[i * k + j]
            if s > sy || (s == sy && j < y) { higher += 1 }
        }
        if higher < t { hits += 1 }
    }
    return Double(hits) / Double(n)
}

/// The linear-probe protocol: standardise with the train statistics, pick the weight decay from `grid` on a
/// held-out fraction of train (by top-1), refit on all of train with it, report test top-1 / top-5.
public struct LinearProbe: Sendable {
    public struct Settings: Codable, Sendable {
        public var l2Grid: [Double] = [0, 1e-5, 1e-4, 1e-3, 1e-2]
        public var maxIterations: Int = 100
        public var heldOutFraction: Double = 0.1
        public var seed: UInt64 = 0
        public init() {}
    }
    public struct Result: Codable, Sendable {
        public var top1: Double
        public var top5: Double
        public var l2: Double
        public var heldOutTop1: [Double]   // per grid value
        public var trainTop1: Double
        public var iterations: Int
        public var seconds: Double
    }

    public var settings: Settings
    /// Progress lines (one per fit), e.g. `eprint`; nil = silent.
    public var log: (@Sendable (String) -> Void)?
    public init(settings: Settings = Settings(), log: (@Sendable (String) -> Void)? = nil) { self.settings = settings; self.log = log }

    public func run(train xTrain: [Float], trainLabels: [Int32], test xTest: [Float], testLabels: [Int32],
                    dim f: Int, classes k: Int) throws -> Result {
        let t0 = Date()
        let n = trainLabels.count
        guard n >= 2, !testLabels.isEmpty else { throw LdaeError("the linear probe needs at least 2 training and 1 test images") }
        for l in trainLabels + testLabels where l < 0 || Int(l) >= k {
            throw LdaeError("label \(l) is outside 0..<\(k) (unlabeled images cannot be probed)")
        }
        // Held-out split (deterministic shuffle).
        var order = Array(0..<n)
        var rng = RNG(seed: settings.seed, stream: 0x9209e)
        rng.shuffle(&order)
        let nHeld = settings.l2Grid.count > 1 ? max(1, min(n - 1, Int((Double(n) * settings.heldOutFraction).rounded()))) : 0
        var heldTop1: [Double] = []
        var best = settings.l2Grid.first ?? 0
        if nHeld > 0 {
            let fitIdx = order[nHeld...], heldIdx = order[..<nHeld]
            var xa = gather(xTrain, fitIdx, f), xh = gather(xTrain, heldIdx, f)
            let ya = fitIdx.map { trainLabels[$0] }, yh = heldIdx.map { trainLabels[$0] }
            let st = Standardizer(fit: xa, count: ya.count, dim: f)
            st.apply(&xa); st.apply(&xh)
            var bestAcc = -1.0
            for l2 in settings.l2Grid {
                let t1 = Date()
                var lr = LogisticRegression(dim: f, classes: k)
                let fr = lr.fit(xa, labels: ya, l2: l2, maxIterations: settings.maxIterations)
                let acc = topKAccuracy(scores: lr.logits(xh), labels: yh, classes: k, top: 1)
                heldTop1.append(acc)
                log?(String(format: "  probe: wd %g: held-out top-1 %.2f%% (%d iterations, %.1f s)", l2, 100 * acc, fr.iterations, Date().timeIntervalSince(t1)))
                if acc > bestAcc { bestAcc = acc; best = l2 }
            }
        }
        var xa = xTrain, xt = xTest
        let st = Standardizer(fit: xa, count: n, dim: f)
        st.apply(&xa); st.apply(&xt)
        var lr = LogisticRegression(dim: f, classes: k)
        let fr = lr.fit(xa, labels: trainLabels, l2: best, maxIterations: settings.maxIterations)
        log?(String(format: "  probe: refit on all %d training images with wd %g (%d iterations)", n, best, fr.iterations))
        let scores = lr.logits(xt)
        return Result(top1: topKAccuracy(scores: scores, labels: testLabels, classes: k, top: 1),
                      top5: topKAccuracy(scores: scores, labels: testLabels, classes: k, top: 5),
                      l2: best, heldOutTop1: heldTop1,
                      trainTop1: topKAccuracy(scores: lr.logits(xa), labels: trainLabels, classes: k, top: 1),
                      iterations: fr.iterations, seconds: Date().timeIntervalSince(t0))
    }

    func gather<C: Collection>(_ x: [Float], _ idx: C, _ f: Int) -> [Float] where C.Element == Int {
        var out = [Float](); out.reserveCapacity(idx.count * f)
        for i in idx { out.append(contentsOf: x[(i * f)..<((i + 1) * f)]) }
        return out
    }
}
