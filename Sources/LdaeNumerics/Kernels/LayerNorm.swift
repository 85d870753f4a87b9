// LayerNorm over the last dimension (eps 1e-6, as timm/MAE ViTs use), flat buffers [N, C].

public enum LayerNorm {
    public static let eps: Float = 1e-6

    /// out[N, C] = (inp - mean) * rstd * weight + bias; saves mean[N], rstd[N].
    public static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(n, grain: 64) { r0, r1 in
            for r in r0..<r1 {
                let x = inp + r * c
                let m = VMath.sum(x, c) / Float(c)
                var acc = F8(); var i = 0
                let m8 = F8(repeating: m)
                while i + 8 <= c { let d = VMath.load(x + i) - m8; acc += d * d; i += 8 }
                var v = acc.sum()
                while i < c { let d = x[i] - m; v += d * d; i += 1 }
                let s = 1 / (v / Float(c) + eps).squareRoot()
                mean[r] = m; rstd[r] = s
                normalizeRow(out + r * c, x, m, s, weight, bias, c)
            }
        }
    }

    /// Recomputes the forward output from saved statistics (used by backward passes that did not keep it).
    public static func apply(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                             rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                             n: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(n, grain: 64) { r0, r1 in
            for r in r0..<r1 { normalizeRow(out + r * c, inp + r * c, mean[r], rstd[r], weight, bias, c) }
        }
    }

    @inline(__always)
    static func normalizeRow(_ o: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ m: Float, _ s: Float,
                             _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: Int) {
        var i = 0
        let m8 = F8(repeating: m), s8 = F8(repeating: s)
        while i + 8 <= c {
            VMath.store((VMath.load(x + i) - m8) * s8 * VMath.load(w + i) + VMath.load(b + i), o + i); i += 8
        }
        while i < c { o[i] = (x[i] - m) * s * w[i] + b[i]; i += 1 }
    }

    /// Backward, ADDING into dinp[N, C], dweight[C], dbias[C].
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                                dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, n: Int, c: Int, plan: ExecutionPlan) {
        let w = plan.workers
        let part = UnsafeMutablePointer<Float>.allocate(capacity: w * 2 * c)
        part.initialize(repeating: 0, count: w * 2 * c)
        defer { part.deallocate() }
        plan.chunksIndexed(n, grain: 64) { k, r0, r1 in
            let dw = part + k * 2 * c, db = dw + c
            for r in r0..<r1 {
                let x = inp + r * c, dy = dout + r * c, dx = dinp + r * c
                let m8 = F8(repeating: mean[r]), s8 = F8(repeating: rstd[r])
                let m = mean[r], s = rstd[r]
                // dnorm = weight * dout; need mean(dnorm) and mean(dnorm * norm)
                var a1 = F8(), a2 = F8(); var i = 0
                while i + 8 <= c {
                    let nrm = (VMath.load(x + i) - m8) * s8
                    let dn = VMath.load(weight + i) * VMath.load(dy + i)
                    a1 += dn; a2 += dn * nrm; i += 8
                }
                var dnMean = a1.sum(), dnnMean = a2.sum()
                while i < c { let nrm = (x[i] - m) * s; let dn = weight[i] * dy[i]; dnMean += dn; dnnMean += dn * nrm; i += 1 }
                dnMean /= Float(c); dnnMean /= Float(c)
                let dm8 = F8(repeating: dnMean), dnn8 = F8(repeating: dnnMean)
                i = 0
                while i + 8 <= c {
                    let nrm = (VMath.load(x + i) - m8) * s8
                    let g = VMath.load(dy + i)
                    let dn = VMath.load(weight + i) * g
                    VMath.store(VMath.load(db + i) + g, db + i)
                    VMath.store(VMath.load(dw + i) + nrm * g, dw + i)
                    VMath.store(VMath.load(dx + i) + (dn - dm8 - nrm * dnn8) * s8, dx + i)
                    i += 8
                }
                while i < c {
                    let nrm = (x[i] - m) * s
                    let dn = weight[i] * dy[i]
                    db[i] += dy[i]; dw[i] += nrm * dy[i]
                    dx[i] += (dn - dnMean - nrm * dnnMean) * s
                    i += 1
                }
            }
        }
        for k in 0..<w {
            for i in 0..<c { dweight[i] += part[k * 2 * c + i]; dbias[i] += part[k * 2 * c + c + i] }
        }
    }

    // MARK: naive reference (Double)

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, n: Int, c: Int) {
        for r in 0..<n {
            var m = 0.0
            for i in 0..<c { m += Double(inp[r * c + i]) }
            m /= Double(c)
            var v = 0.0
            for i in 0..<c { let d = Double(inp[r * c + i]) - m; v += d * d }
            v /= Double(c)
            let s = 1 / (v + Double(eps)).squareRoot()
            for i in 0..<c { out[r * c + i] = Float((Double(inp[r * c + i]) - m) * s * Double(weight[i]) + Double(bias[i])) }
        }
    }
}
