// GELU with the exact erf form (torch nn.GELU() default, timm Mlp): gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
// Parallel over contiguous chunks; each chunk runs the AVX2 C loop (FastKernels, same erf/exp approximations) when
// the plan uses the fast kernels, the Swift loop below otherwise.

public enum GELU {
    static let invSqrt2: Float = 0.70710678118654752
    static let invSqrt2Pi: Float = 0.39894228040143268

    @inline(__always)
    static func value(_ x: Float) -> Float { 0.5 * x * (1 + VMath.erf(x * invSqrt2)) }

    /// d/dx x Phi(x) = Phi(x) + x phi(x)
    @inline(__always)
    static func derivative(_ x: Float) -> Float {
        0.5 * (1 + VMath.erf(x * invSqrt2)) + x * VMath.exp(-0.5 * x * x) * invSqrt2Pi
    }

    /// out[n] = gelu(inp[n])  (out may alias inp)
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int, plan: ExecutionPlan) {
        let fast = plan.usesFastKernels
        plan.chunks(n, grain: 4096) { a, b in
            if fast { FastKernels.geluForward(out: out + a, inp: inp + a, n: b - a); return }
            for i in a..<b { out[i] = value(inp[i]) }
        }
    }

    /// Backward, ADDING: dinp[n] += dout[n] * gelu'(inp[n]).
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                dout: UnsafePointer<Float>, n: Int, plan: ExecutionPlan) {
        let fast = plan.usesFastKernels
        plan.chunks(n, grain: 4096) { a, b in
            if fast { FastKernels.geluBackward(dinp: dinp + a, inp: inp + a, dout: dout + a, n: b - a); return }
            for i in a..<b { dinp[i] += dout[i] * derivative(inp[i]) }
        }
    }

    /// out[n] = gelu(x[n]) and, in place, x[n] = gelu'(x[n]): the model's backward recomputes the activation (for
    /// fc2's weight gradient) and needs the derivative (for fc1's output gradient); one erf serves both.
    public static func forwardAndDerivative(out: UnsafeMutablePointer<Float>, x: UnsafeMutablePointer<Float>, n: Int,
                                            plan: ExecutionPlan) {
        let fast = plan.usesFastKernels
        plan.chunks(n, grain: 4096) { a, b in
            if fast { FastKernels.geluForwardGrad(out: out + a, x: x + a, n: b - a); return }
            for i in a..<b { let v = x[i]; out[i] = value(v); x[i] = derivative(v) }
        }
    }

    /// In place: d[n] = d[n] * gelu'(inp[n]) (the model's fused form of `backward` into a fresh buffer).
    public static func backwardInPlace(_ d: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int, plan: ExecutionPlan) {
        let fast = plan.usesFastKernels
        plan.chunks(n, grain: 4096) { a, b in
            if fast { FastKernels.geluBackwardInPlace(d + a, inp: inp + a, n: b - a); return }
            for i in a..<b { d[i] *= derivative(inp[i]) }
        }
    }

    // MARK: naive reference (libm erf, Double)
    public static func forwardNaive(_ x: Float) -> Float {
        let xd = Double(x)
        return Float(0.5 * xd * (1 + _erf(xd / 2.0.squareRoot())))
    }
}

import Foundation
@inline(__always) func _erf(_ x: Double) -> Double { Foundation.erf(x) }
