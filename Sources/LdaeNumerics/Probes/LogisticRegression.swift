import Foundation

/// Multinomial logistic regression fitted full-batch with L-BFGS (a fixed iteration budget), the linear probe.
///   logits [N, K] = X [N, F] W [F, K] + b [K]
///   loss = mean_n CE(softmax(logits_n), y_n) + (l2 / 2) ||W||^2      (the bias is not decayed)
/// Matrix products go through BLAS sgemm; the optimiser state is float64.
public struct LogisticRegression: Sendable {
    public var weights: [Float]   // [F, K]
    public var bias: [Float]      // [K]
    public let dim: Int
    public let classes: Int
    /// Threads of the loss and gradient (rows in chunks, one per thread).
    public let plan: ExecutionPlan

    public init(dim: Int, classes: Int, plan: ExecutionPlan = .automatic) {
        self.dim = dim; self.classes = classes; self.plan = plan
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
                            grad: UnsafeMutablePointer<Float>, plan: ExecutionPlan) -> Double {
        let w = params, b = params + f * k
        // Rows in chunks over the plan's threads, each chunk with single-threaded sgemms (these are thin: [n, F] x
        // [F, K], shapes where OpenBLAS's own threading spends more time waiting than computing on shared cores).
        // Per chunk: logits = X W; softmax in place, CE; logits becomes dL/dlogits = (P - Y) / n; the chunk's
        // dW partial X_c^T dlogits_c. Loss, bias and dW partial sums are reduced in chunk order (deterministic).
        let invN = 1 / Float(n)
        let gb = grad + f * k
        let chunks = plan.workers
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: chunks * (k + 1))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: chunks * (k + 1))
        let dwPart = UnsafeMutablePointer<Float>.allocate(capacity: chunks * f * k)   // [chunks, F, K]
        defer { dwPart.deallocate() }
        dwPart.initialize(repeating: 0, count: chunks * f * k)
        let lg = logits
        BLAS.withOneThread {
            plan.chunksIndexed(n, grain: 2048) { c, lo, hi in
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
        require(x.count == n * f && n > 0)
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
                                                   params: pp.baseAddress!, logits: lp.baseAddress!, grad: gp.baseAddress!,
                                                   plan: plan)
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
