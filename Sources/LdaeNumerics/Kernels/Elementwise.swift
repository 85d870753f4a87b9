// Residual add, positional-embedding add, mean pooling, and their backward passes.

public enum Residual {
    /// out[n] = a[n] + b[n]  (out may alias a or b)
    public static func forward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int,
                               plan: ExecutionPlan) {
        plan.chunks(n, grain: 8192) { s, e in
            var i = s
            while i + 8 <= e { VMath.store(VMath.load(a + i) + VMath.load(b + i), out + i); i += 8 }
            while i < e { out[i] = a[i] + b[i]; i += 1 }
        }
    }
    /// out[n] += sources[0][n] + sources[1][n] + ..., added one source after another (the same bits as one
    /// `forward(out: out, a: out, b: source)` per source, in one pass over memory).
    public static func addInto(_ out: UnsafeMutablePointer<Float>, sources: [UnsafePointer<Float>], n: Int, plan: ExecutionPlan) {
        if sources.isEmpty { return }
        plan.chunks(n, grain: 8192) { s, e in
            var i = s
            while i + 8 <= e {
                var acc = VMath.load(out + i)
                for src in sources { acc += VMath.load(src + i) }
                VMath.store(acc, out + i); i += 8
            }
            while i < e { var v = out[i]; for src in sources { v += src[i] }; out[i] = v; i += 1 }
        }
    }
    /// Backward, ADDING: da += dout, db += dout.
    public static func backward(da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, n: Int,
                                plan: ExecutionPlan) {
        forward(out: da, a: da, b: dout, n: n, plan: plan)
        forward(out: db, a: db, b: dout, n: n, plan: plan)
    }
}

public enum PosEmbedAdd {
    /// x[B, T, C] += pos[T, C]
    public static func forward(x: UnsafeMutablePointer<Float>, pos: UnsafePointer<Float>, b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(b, grain: 1) { b0, b1 in
            for bi in b0..<b1 { let r = x + bi * t * c; for i in 0..<(t * c) { r[i] += pos[i] } }
        }
    }
    /// dpos[T, C] += sum over b of dx[B, T, C]
    public static func backward(dpos: UnsafeMutablePointer<Float>, dx: UnsafePointer<Float>, b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        Linear.columnSums(into: dpos, dx, n: b, oc: t * c, plan: plan)
    }
}

public enum MeanPool {
    /// out[B, C] = mean over t of x[B, T, C]
    public static func forward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, b: Int, t: Int, c: Int) {
        for bi in 0..<b {
            let o = out + bi * c
            o.initialize(repeating: 0, count: c)
            for ti in 0..<t { let r = x + (bi * t + ti) * c; for i in 0..<c { o[i] += r[i] } }
            let inv = 1 / Float(t)
            for i in 0..<c { o[i] *= inv }
        }
    }
    /// Backward, ADDING: dx[b, t, c] += dout[b, c] / T
    public static func backward(dx: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, b: Int, t: Int, c: Int) {
        let inv = 1 / Float(t)
        for bi in 0..<b { for ti in 0..<t { let r = dx + (bi * t + ti) * c; for i in 0..<c { r[i] += dout[bi * c + i] * inv } } }
    }
}
