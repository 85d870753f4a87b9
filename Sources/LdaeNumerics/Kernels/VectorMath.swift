// Vectorised float math for the elementwise kernels (8 lanes). Accurate to a few ulp in float32.

public typealias F8 = SIMD8<Float>

public enum VMath {
    // exp and erf are written as straight-line scalar code (compares as selects, the rounding by the 1.5*2^23 trick,
    // 2^n by exponent bits: no calls, no branches) so that LLVM vectorises the loops that use them.

    /// exp(x): Cody-Waite range reduction x = n ln2 + r, degree-6 polynomial (Cephes expf), 2^n by exponent bits.
    /// Inputs are clamped to [-87.3, 88.3] (results ~1e-38 .. 2e38). Relative error < 4e-7 (KernelTests).
    @inline(__always)
    public static func exp(_ xIn: Float) -> Float {
        var x = xIn < -87.3 ? -87.3 : xIn
        x = x > 88.3 ? 88.3 : x
        let t = x * 1.44269504088896341 + 12582912.0      // round(x log2 e) held in the low mantissa bits
        let fx = t - 12582912.0
        var r = x - fx * 0.693359375
        r = r + fx * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * r * r + r + 1
        let n = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        return y * Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
    }

    /// erf(x): odd/even rational approximation on [-4, 4] (erf = +-1 in float beyond), as in Eigen's
    /// generic_fast_erf_float. Max absolute error < 4e-7 against libm erf (KernelTests).
    @inline(__always)
    public static func erf(_ xIn: Float) -> Float {
        var x = xIn < -4 ? -4 : xIn
        x = x > 4 ? 4 : x
        let x2 = x * x
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = x2 * p + -2.10102402082508e-06
        p = x2 * p + -5.69250639462346e-05
        p = x2 * p + -7.34990630326855e-04
        p = x2 * p + -2.95459980854025e-03
        p = x2 * p + -1.60960333262415e-02
        p = x * p
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = x2 * q + -1.68282697438203e-03
        q = x2 * q + -7.37332916720468e-03
        q = x2 * q + -1.42647390514189e-02
        return p / q
    }

    @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> F8 {
        UnsafeRawPointer(p).loadUnaligned(as: F8.self)
    }

    @inline(__always)
    public static func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
    }


    /// sum of p[0..<n]
    @inline(__always)
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F8(); var i = 0
        while i + 8 <= n { acc += load(p + i); i += 8 }
        var s = acc.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// sum of a[i] * b[i]
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F8(); var i = 0
        while i + 8 <= n { acc += load(a + i) * load(b + i); i += 8 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}
