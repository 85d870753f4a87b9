import Foundation

// adaLN time conditioning (DiT): t -> sinusoidal embedding [B, 256] -> Linear -> SiLU -> Linear = c [B, W];
// per block, Linear(SiLU(c)) = mod [B, 6C] = (shift, scale, gate) for the attention and for the MLP branch.
// The per-sample rows (shift, scale, gate) are read at a row stride `stride` (6C) from the mod buffer.

public enum AdaLN {
    /// DiT timestep_embedding(t * 1000, dim, max_period 10000): out[B, dim] = [cos(t f_k) | sin(t f_k)],
    /// f_k = exp(-ln(10000) k / (dim/2)). t is in [0, 1) (t / 1000), so it is scaled back to 0..1000.
    public static func timestepEmbedding(out: UnsafeMutablePointer<Float>, t: UnsafePointer<Float>, b: Int, dim: Int) {
        let half = dim / 2
        for bi in 0..<b {
            let tt = Double(t[bi]) * 1000
            for k in 0..<half {
                let f = Foundation.exp(-Foundation.log(10000.0) * Double(k) / Double(half))
                out[bi * dim + k] = Float(Foundation.cos(tt * f))
                out[bi * dim + half + k] = Float(Foundation.sin(tt * f))
            }
        }
    }

    /// out[n] = silu(x[n]) = x sigmoid(x)  (out may alias x)
    public static func silu(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
        for i in 0..<n { let v = x[i]; out[i] = v / (1 + Foundation.exp(-v)) }
    }

    /// In place: d[n] *= silu'(x[n])
    public static func siluBackwardInPlace(_ d: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int) {
        for i in 0..<n {
            let s = 1 / (1 + Foundation.exp(-x[i]))
            d[i] *= s * (1 + x[i] * (1 - s))
        }
    }

    /// out[b, t, :] = x[b, t, :] * (1 + scale[b, :]) + shift[b, :]   (out may alias x)
    public static func modulate(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                shift: UnsafePointer<Float>, scale: UnsafePointer<Float>, stride: Int,
                                b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(b) { b0, b1 in
            for bi in b0..<b1 {
                let sh = shift + bi * stride, sc = scale + bi * stride
                for ti in 0..<t {
                    let r = (bi * t + ti) * c
                    for i in 0..<c { out[r + i] = x[r + i] * (1 + sc[i]) + sh[i] }
                }
            }
        }
    }

    /// Backward of modulate from dy: dx = dy * (1 + scale) (WRITTEN; dx may alias dy), and ADDS
    /// dshift[b] += sum_t dy, dscale[b] += sum_t dy * x.
    public static func modulateBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                        scale: UnsafePointer<Float>, dshift: UnsafeMutablePointer<Float>,
                                        dscale: UnsafeMutablePointer<Float>, stride: Int, b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(b) { b0, b1 in
            for bi in b0..<b1 {
                let sc = scale + bi * stride, dsh = dshift + bi * stride, dsc = dscale + bi * stride
                for ti in 0..<t {
                    let r = (bi * t + ti) * c
                    for i in 0..<c {
                        let g = dy[r + i]
                        dsh[i] += g; dsc[i] += g * x[r + i]
                        dx[r + i] = g * (1 + sc[i])
                    }
                }
            }
        }
    }

    /// out[b, t, :] = x[b, t, :] + gate[b, :] * y[b, t, :]   (out may alias x)
    public static func gatedResidual(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                                     y: UnsafePointer<Float>, stride: Int, b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(b) { b0, b1 in
            for bi in b0..<b1 {
                let g = gate + bi * stride
                for ti in 0..<t {
                    let r = (bi * t + ti) * c
                    for i in 0..<c { out[r + i] = x[r + i] + g[i] * y[r + i] }
                }
            }
        }
    }

    /// Backward of gatedResidual for the branch: dy = dout * gate (WRITTEN), dgate[b] += sum_t dout * y.
    /// (dx += dout is the identity path, left to the caller.)
    public static func gatedResidualBackward(dy: UnsafeMutablePointer<Float>, dgate: UnsafeMutablePointer<Float>,
                                             dout: UnsafePointer<Float>, y: UnsafePointer<Float>, gate: UnsafePointer<Float>,
                                             stride: Int, b: Int, t: Int, c: Int, plan: ExecutionPlan) {
        plan.chunks(b) { b0, b1 in
            for bi in b0..<b1 {
                let g = gate + bi * stride, dg = dgate + bi * stride
                for ti in 0..<t {
                    let r = (bi * t + ti) * c
                    for i in 0..<c { dg[i] += dout[r + i] * y[r + i]; dy[r + i] = dout[r + i] * g[i] }
                }
            }
        }
    }
}
