import Foundation

/// Per-patch brightness and contrast normalisation of Coates, Lee & Ng (2011): a patch's values in 0..255 units,
/// minus their mean, divided by sqrt(var + eps) with eps = 10 in their code; var over the patch's values with
/// n - 1 in the denominator (MATLAB's `var`, as their code uses).
public enum PatchNormalization {
    /// Rows of x [n, d], given in the pixel scaling (x/127.5 - 1), normalised in place.
    public static func apply(_ x: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int, eps: Double) {
        require(d >= 2)
        // In 0..255 units v = 127.5 (x + 1): v - mean(v) = 127.5 (x - mean(x)), var(v) = 127.5^2 var(x).
        let s: Float = 127.5, e = Float(eps)
        for r in 0..<n {
            let p = x + r * d
            var m: Float = 0
            for j in 0..<d { m += p[j] }
            m /= Float(d)
            var v: Float = 0
            for j in 0..<d { let t = p[j] - m; v += t * t }
            let inv = s / (s * s * v / Float(d - 1) + e).squareRoot()
            for j in 0..<d { p[j] = (p[j] - m) * inv }
        }
    }
}

/// ZCA whitening fitted to the rows of x [n, d]: x -> (x - mean) W with W = V diag(1 / sqrt(lambda + eps)) V^T,
/// where lambda, V are the eigenvalues and eigenvectors of the rows' covariance (n - 1 denominator, float64 sums;
/// `LAPACK.symmetricEigen`). On the fitted rows the whitened covariance is V diag(lambda / (lambda + eps)) V^T: the
/// identity where lambda >> eps (Coates et al. use eps = 0.1 on normalised patches).
public struct ZCAWhitening: Sendable {
    public let dim: Int
    public let eps: Double
    public let mean: [Float]
    /// W [d, d], symmetric.
    public let matrix: [Float]
    /// The covariance's eigenvalues, ascending.
    public let eigenvalues: [Double]
    /// mean W, subtracted after the product so that `apply` needs no copy of its input.
    let offset: [Float]

    public init(fit x: [Float], count n: Int, dim d: Int, eps: Double) throws {
        require(x.count == n * d && d >= 1)
        guard n >= 2 else { throw LdaeError("ZCA whitening needs at least 2 rows, got \(n)") }
        guard eps >= 0 else { throw LdaeError("ZCA eps must be >= 0, got \(eps)") }
        var m = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { m[j] += Double(x[i * d + j]) } }
        for j in 0..<d { m[j] /= Double(n) }
        // Upper triangle of the centred rows' A^T A, in float64 blocks.
        let blk = 4096
        var cov = [Double](repeating: 0, count: d * d), buf = [Double](repeating: 0, count: blk * d)
        var r0 = 0
        while r0 < n {
            let rows = min(blk, n - r0)
            for i in 0..<rows { for j in 0..<d { buf[i * d + j] = Double(x[(r0 + i) * d + j]) - m[j] } }
            buf.withUnsafeBufferPointer { bp in cov.withUnsafeMutableBufferPointer { cp in
                BLAS.dsyrkAtA(n: d, k: rows, alpha: 1, a: bp.baseAddress!, lda: d, beta: r0 == 0 ? 0 : 1,
                              c: cp.baseAddress!, ldc: d)
            } }
            r0 += rows
        }
        for a in 0..<d { for b in a..<d { cov[a * d + b] /= Double(n - 1); cov[b * d + a] = cov[a * d + b] } }
        let (vals, vecs) = try LAPACK.symmetricEigen(cov, n: d)
        var w = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            let lam = max(0, vals[i]) + eps
            guard lam > 0 else { throw LdaeError("ZCA whitening: eigenvalue \(i) is 0 and eps is 0 (give eps > 0)") }
            let s = 1 / lam.squareRoot(), v = i * d
            for a in 0..<d { let va = vecs[v + a] * s; for b in 0..<d { w[a * d + b] += va * vecs[v + b] } }
        }
        var off = [Float](repeating: 0, count: d)
        for b in 0..<d { var s = 0.0; for a in 0..<d { s += m[a] * w[a * d + b] }; off[b] = Float(s) }
        dim = d; self.eps = eps; mean = m.map { Float($0) }; matrix = w.map { Float($0) }; eigenvalues = vals; offset = off
    }

    /// out [n, d] = (x - mean) W for rows x [n, d] (sgemm; OpenBLAS at its current thread count).
    public func apply(_ x: UnsafePointer<Float>, rows n: Int, into out: UnsafeMutablePointer<Float>) {
        if n == 0 { return }
        let d = dim
        matrix.withUnsafeBufferPointer { wp in
            BLAS.sgemm(transA: false, transB: false, m: n, n: d, k: d, alpha: 1, a: x, lda: d, b: wp.baseAddress!, ldb: d,
                       beta: 0, c: out, ldc: d)
        }
        offset.withUnsafeBufferPointer { op in
            for r in 0..<n { let row = out + r * d; for j in 0..<d { row[j] -= op[j] } }
        }
    }
}
