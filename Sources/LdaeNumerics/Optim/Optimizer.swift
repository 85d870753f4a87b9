import Foundation

/// AdamW over one flat parameter buffer (PyTorch's torch.optim.AdamW): decoupled weight decay applied only to
/// the segments marked `decay` (weights of linear layers; not norms, biases, embeddings), bias-corrected moments.
public final class AdamW {
    /// A run of parameters: weight decay on or off, and a multiplier of the learning rate (layer-wise lr decay in
    /// fine-tuning, `LayerDecay`; 1 in pretraining) that scales both the step and the decoupled decay.
    public struct Segment: Sendable { public let offset: Int; public let count: Int; public let decay: Bool; public let lrScale: Double
        public init(offset: Int, count: Int, decay: Bool, lrScale: Double = 1) {
            self.offset = offset; self.count = count; self.decay = decay; self.lrScale = lrScale
        } }

    public let count: Int
    public let segments: [Segment]
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    /// First and second moments [count].
    public var m: [Float]
    public var v: [Float]
    /// Updates done so far (the bias correction uses step + 1 for the next update).
    public var step: Int = 0

    public init(count: Int, segments: [Segment], beta1: Double, beta2: Double, weightDecay: Double, eps: Double = 1e-8) {
        self.count = count; self.segments = segments
        self.beta1 = beta1; self.beta2 = beta2; self.weightDecay = weightDecay; self.eps = eps
        m = [Float](repeating: 0, count: count); v = [Float](repeating: 0, count: count)
    }

    /// One update of params [count] from grads [count] at learning rate lr.
    public func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Double, plan: ExecutionPlan) {
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2)
        let bc1 = Float(1 - pow(beta1, Double(step))), bc2 = Float(1 - pow(beta2, Double(step)))
        let bc2sqrt = bc2.squareRoot()
        let e = Float(eps)
        // Elementwise, so splitting each segment over the cores (8 lanes at a time) gives the same bits as a loop.
        m.withUnsafeMutableBufferPointer { mb in v.withUnsafeMutableBufferPointer { vb in
            let mp = mb.baseAddress!, vp = vb.baseAddress!
            for s in segments {
                let lrs = s.lrScale == 1 ? lr : lr * s.lrScale
                let stepSize = Float(lrs) / bc1
                let decay: Float = s.decay ? 1 - Float(lrs * weightDecay) : 1
                plan.chunks(s.count, grain: 1 << 15) { a, b in
                    var i = s.offset + a
                    let end = s.offset + b
                    let vb1 = F8(repeating: b1), vb2 = F8(repeating: b2), vc1 = F8(repeating: 1 - b1), vc2 = F8(repeating: 1 - b2)
                    let vdecay = F8(repeating: decay), vstep = F8(repeating: stepSize), vbc = F8(repeating: bc2sqrt), ve = F8(repeating: e)
                    while i + 8 <= end {
                        let g = VMath.load(grads + i)
                        let mi = vb1 * VMath.load(mp + i) + vc1 * g
                        let vi = vb2 * VMath.load(vp + i) + vc2 * g * g
                        VMath.store(mi, mp + i); VMath.store(vi, vp + i)
                        VMath.store(VMath.load(params + i) * vdecay - vstep * mi / (vi.squareRoot() / vbc + ve), params + i)
                        i += 8
                    }
                    while i < end {
                        let g = grads[i]
                        let mi = b1 * mp[i] + (1 - b1) * g
                        let vi = b2 * vp[i] + (1 - b2) * g * g
                        mp[i] = mi; vp[i] = vi
                        params[i] = params[i] * decay - stepSize * mi / (vi.squareRoot() / bc2sqrt + e)
                        i += 1
                    }
                }
            }
        } }
    }
}

public enum GradOps {
    /// L2 norm of a flat buffer: float partial sums over fixed blocks of 4096 (8 lanes), added in block order in
    /// Double, so the result does not depend on the number of threads that computed the blocks.
    public static func norm(_ g: UnsafePointer<Float>, count: Int, plan: ExecutionPlan) -> Double {
        let block = 4096, nb = (count + block - 1) / block
        if nb == 0 { return 0 }
        var parts = [Double](repeating: 0, count: nb)
        parts.withUnsafeMutableBufferPointer { pb in
            let p = pb.baseAddress!
            plan.chunks(nb, grain: 64) { b0, b1 in
                for bi in b0..<b1 {
                    var i = bi * block
                    let end = min(count, i + block)
                    var acc = F8()
                    while i + 8 <= end { let x = VMath.load(g + i); acc += x * x; i += 8 }
                    var part = acc.sum()
                    while i < end { part += g[i] * g[i]; i += 1 }
                    p[bi] = Double(part)
                }
            }
        }
        return parts.reduce(0, +).squareRoot()
    }

    /// Clips the total norm to `maxNorm` (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
    /// maxNorm <= 0 disables clipping.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double, plan: ExecutionPlan) -> Double {
        let n = norm(g, count: count, plan: plan)
        if maxNorm > 0 && n > maxNorm && n.isFinite {
            let s = Float(maxNorm / (n + 1e-6))
            plan.chunks(count, grain: 1 << 15) { a, b in for i in a..<b { g[i] *= s } }
        }
        return n
    }

    /// ema = decay * ema + (1 - decay) * params.
    public static func emaUpdate(_ ema: UnsafeMutablePointer<Float>, params: UnsafePointer<Float>, count: Int, decay: Double) {
        let d = Float(decay), o = Float(1 - decay)
        for i in 0..<count { ema[i] = d * ema[i] + o * params[i] }
    }
}
