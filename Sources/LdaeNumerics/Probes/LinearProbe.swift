import Foundation

/// Top-k accuracy (fraction in [0, 1]) of scores [n, K] against labels; k is capped at K.
public func topKAccuracy(scores: [Float], labels: [Int32], classes k: Int, top: Int) -> Double {
    let n = labels.count
    require(scores.count == n * k)
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
    public let plan: ExecutionPlan
    public init(settings: Settings = Settings(), log: (@Sendable (String) -> Void)? = nil, plan: ExecutionPlan = .automatic) {
        self.settings = settings; self.log = log; self.plan = plan
    }

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
                var lr = LogisticRegression(dim: f, classes: k, plan: plan)
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
        var lr = LogisticRegression(dim: f, classes: k, plan: plan)
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
