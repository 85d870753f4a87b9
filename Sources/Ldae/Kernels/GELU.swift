// GELU with the exact erf form (torch nn.GELU() default, timm Mlp): gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).

public enum GELU {
    static let invSqrt2: Float = 0.70710678118654752
    static let invSqrt2Pi: Float = 0.39894228040143268

    /// out[n] = gelu(inp[n])  (out may alias inp)
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
        Parallel.chunks(n, grain: 4096) { a, b in
            var i = a
            while i + 8 <= b {
                let x = VMath.load(inp + i)
                VMath.store(0.5 * x * (1 + VMath.erf(x * invSqrt2)), out + i); i += 8
            }
            while i < b { let x = inp[i]; out[i] = 0.5 * x * (1 + VMath.erf(x * invSqrt2)); i += 1 }
        }
    }

    @inline(__always)
    static func derivative(_ x: F8) -> F8 {
        // d/dx x Phi(x) = Phi(x) + x phi(x)
        let cdf = 0.5 * (1 + VMath.erf(x * invSqrt2))
        let pdf = VMath.exp(-0.5 * x * x) * invSqrt2Pi
        return cdf + x * pdf
    }

    /// Backward, ADDING: dinp[n] += dout[n] * gelu'(inp[n]).
    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                                dout: UnsafePointer<Float>, n: Int) {
        Parallel.chunks(n, grain: 4096) { a, b in
            var i = a
            while i + 8 <= b {
                VMath.store(VMath.load(dinp + i) + VMath.load(dout + i) * derivative(VMath.load(inp + i)), dinp + i); i += 8
            }
            while i < b { dinp[i] += dout[i] * derivative(F8(repeating: inp[i]))[0]; i += 1 }
        }
    }

    /// In place: d[n] = d[n] * gelu'(inp[n]) (the model's fused form of `backward` into a fresh buffer).
    public static func backwardInPlace(_ d: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
        Parallel.chunks(n, grain: 4096) { a, b in
            var i = a
            while i + 8 <= b { VMath.store(VMath.load(d + i) * derivative(VMath.load(inp + i)), d + i); i += 8 }
            while i < b { d[i] *= derivative(F8(repeating: inp[i]))[0]; i += 1 }
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
