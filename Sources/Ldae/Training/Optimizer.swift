import Foundation

/// AdamW over one flat parameter buffer (PyTorch's torch.optim.AdamW): decoupled weight decay applied only to
/// the segments marked `decay` (weights of linear layers; not norms, biases, embeddings), bias-corrected moments.
public final class AdamW {
    public struct Segment: Sendable { public let offset: Int; public let count: Int; public let decay: Bool
        public init(offset: Int, count: Int, decay: Bool) { self.offset = offset; self.count = count; self.decay = decay } }

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
    public func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Double) {
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2)
        let bc1 = Float(1 - pow(beta1, Double(step))), bc2 = Float(1 - pow(beta2, Double(step)))
        let stepSize = Float(lr) / bc1
        let bc2sqrt = bc2.squareRoot()
        let e = Float(eps)
        m.withUnsafeMutableBufferPointer { mp in v.withUnsafeMutableBufferPointer { vp in
            for s in segments {
                let decay: Float = s.decay ? 1 - Float(lr * weightDecay) : 1
                for i in s.offset..<(s.offset + s.count) {
                    let g = grads[i]
                    let mi = b1 * mp[i] + (1 - b1) * g
                    let vi = b2 * vp[i] + (1 - b2) * g * g
                    mp[i] = mi; vp[i] = vi
                    params[i] = params[i] * decay - stepSize * mi / (vi.squareRoot() / bc2sqrt + e)
                }
            }
        } }
    }
}

public enum GradOps {
    /// L2 norm of a flat buffer (accumulated in double).
    public static func norm(_ g: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        var i = 0
        while i < count {
            let end = min(count, i + 4096)
            var part: Float = 0
            for k in i..<end { part += g[k] * g[k] }
            s += Double(part); i = end
        }
        return s.squareRoot()
    }

    /// Clips the total norm to `maxNorm` (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
    /// maxNorm <= 0 disables clipping.
    @discardableResult
    public static func clip(_ g: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        let n = norm(g, count: count)
        if maxNorm > 0 && n > maxNorm && n.isFinite {
            let s = Float(maxNorm / (n + 1e-6))
            for i in 0..<count { g[i] *= s }
        }
        return n
    }

    /// ema = decay * ema + (1 - decay) * params.
    public static func emaUpdate(_ ema: UnsafeMutablePointer<Float>, params: UnsafePointer<Float>, count: Int, decay: Double) {
        let d = Float(decay), o = Float(1 - decay)
        for i in 0..<count { ema[i] = d * ema[i] + o * params[i] }
    }
}
