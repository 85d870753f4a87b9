import Foundation

/// Streaming mean and covariance of D-dimensional rows in float64, one block at a time (memory O(D^2),
/// independent of the number of rows). The Gram matrix is accumulated with BLAS `dsyrk` on blocks.
///
/// Numerics: rows are shifted by a fixed reference vector (the first block's mean) before accumulating,
/// so that sum((x - c)(x - c)^T) - n (m - c)(m - c)^T does not cancel catastrophically when the mean is
/// large relative to the spread (the covariance is shift-invariant).
public struct CovarianceAccumulator: Sendable {
    public let dim: Int
    public private(set) var count: Int = 0
    /// The reference shift c [D] (nil until the first block).
    public private(set) var shift: [Double]?
    /// sum over rows of (x - c) [D].
    var sum: [Double]
    /// Upper triangle (row-major) of sum over rows of (x - c)(x - c)^T [D, D].
    var gram: [Double]
    /// Shifted pixel lookup, lut[j * 256 + v] = PixelScaling.table[v] - c[j] (built with the shift).
    private var lut: [Double] = []

    public init(dim: Int) {
        precondition(dim > 0)
        self.dim = dim
        sum = [Double](repeating: 0, count: dim)
        gram = [Double](repeating: 0, count: dim * dim)
    }

    /// Adds `n` rows of `block` [n, D] (float64, row-major). The block is overwritten (shifted in place).
    public mutating func add(_ block: UnsafeMutablePointer<Double>, rows n: Int) {
        let D = dim
        if n == 0 { return }
        if shift == nil {
            var c = [Double](repeating: 0, count: D)
            for i in 0..<n { for j in 0..<D { c[j] += block[i * D + j] } }
            for j in 0..<D { c[j] /= Double(n) }
            shift = c
        }
        let c = shift!
        sum.withUnsafeMutableBufferPointer { s in
            c.withUnsafeBufferPointer { cp in
                for i in 0..<n {
                    let row = block + i * D
                    for j in 0..<D { let v = row[j] - cp[j]; row[j] = v; s[j] += v }
                }
            }
        }
        addShifted(block, rows: n)
    }

    /// Adds `n` rows of float data [n, D] (copied to float64 internally, in blocks).
    public mutating func add(floats x: [Float], rows n: Int) {
        precondition(x.count == n * dim)
        let B = CovarianceAccumulator.blockRows(dim: dim)
        var buf = [Double](repeating: 0, count: B * dim)
        var r = 0
        while r < n {
            let m = min(B, n - r)
            for k in 0..<(m * dim) { buf[k] = Double(x[r * dim + k]) }
            buf.withUnsafeMutableBufferPointer { add($0.baseAddress!, rows: m) }
            r += m
        }
    }

    /// Adds `n` uint8 rows [n, D], converted with the pixel scaling (`PixelScaling.table`, x/127.5 - 1) and
    /// shifted in one pass into `scratch` (at least n * D doubles).
    public mutating func add(bytes x: UnsafePointer<UInt8>, rows n: Int, scratch: UnsafeMutablePointer<Double>) {
        let D = dim
        if n == 0 { return }
        if shift == nil {
            var c = [Double](repeating: 0, count: D)
            for i in 0..<n { for j in 0..<D { c[j] += Double(PixelScaling.table[Int(x[i * D + j])]) } }
            for j in 0..<D { c[j] /= Double(n) }
            shift = c
        }
        if lut.isEmpty {
            let c = shift!
            lut = [Double](repeating: 0, count: D * 256)
            for j in 0..<D { for v in 0..<256 { lut[j * 256 + v] = Double(PixelScaling.table[v]) - c[j] } }
        }
        sum.withUnsafeMutableBufferPointer { s in
            lut.withUnsafeBufferPointer { l in
                for i in 0..<n {
                    let src = x + i * D, dst = scratch + i * D
                    for j in 0..<D { let v = l[j &* 256 &+ Int(src[j])]; dst[j] = v; s[j] += v }
                }
            }
        }
        addShifted(scratch, rows: n)
    }

    /// gram += block^T block for already-shifted rows; count += n.
    private mutating func addShifted(_ block: UnsafePointer<Double>, rows n: Int) {
        let D = dim
        gram.withUnsafeMutableBufferPointer { g in
            BLAS.dsyrkAtA(n: D, k: n, alpha: 1, a: block, lda: D, beta: 1, c: g.baseAddress!, ldc: D)
        }
        count += n
    }

    /// Combines another accumulator (e.g. one per worker thread) into this one.
    public mutating func merge(_ o: CovarianceAccumulator) {
        precondition(o.dim == dim)
        guard o.count > 0 else { return }
        guard let c = shift else { self = o; return }
        // Re-express o's sums around our shift: y = x - c = (x - c') + d, d = c' - c.
        let D = dim
        let d = (0..<D).map { o.shift![$0] - c[$0] }
        let n = Double(o.count)
        for i in 0..<D {
            sum[i] += o.sum[i] + n * d[i]
            for j in i..<D {
                gram[i * D + j] += o.gram[i * D + j] + d[i] * o.sum[j] + o.sum[i] * d[j] + n * d[i] * d[j]
            }
        }
        count += o.count
    }

    /// Mean of all rows [D].
    public var mean: [Double] {
        guard let c = shift, count > 0 else { return [Double](repeating: 0, count: dim) }
        return (0..<dim).map { c[$0] + sum[$0] / Double(count) }
    }

    /// Sample covariance [D, D] (full symmetric, denominator n - 1 as numpy.cov and scikit-learn's PCA).
    public func covariance() -> [Double] {
        let D = dim
        var cov = [Double](repeating: 0, count: D * D)
        guard count > 1 else { return cov }
        let n = Double(count)
        let m = sum.map { $0 / n }   // mean of shifted rows
        for i in 0..<D {
            for j in i..<D {
                let v = (gram[i * D + j] - n * m[i] * m[j]) / (n - 1)
                cov[i * D + j] = v; cov[j * D + i] = v
            }
        }
        return cov
    }

    /// Rows per block so that a float64 block is about 8 MB (at least 256 rows).
    public static func blockRows(dim: Int) -> Int { max(256, (1 << 20) / dim) }
}

public enum PCAFit {
    /// Eigendecomposition of a symmetric covariance [D, D] (LAPACK dsyevd): components as rows sorted by
    /// descending eigenvalue, each with its largest-magnitude entry positive (ties: the first such entry),
    /// tiny negative eigenvalues (round-off) clamped to 0.
    public static func eigen(covariance cov: [Double], dim D: Int) throws -> (values: [Double], vectors: [Double]) {
        let (w, v) = try LAPACK.symmetricEigen(cov, n: D)
        var values = [Double](repeating: 0, count: D)
        var vectors = [Double](repeating: 0, count: D * D)
        for k in 0..<D {
            let src = D - 1 - k   // ascending -> descending
            values[k] = max(0, w[src])
            var best = 0, bestAbs = -1.0
            for j in 0..<D where abs(v[src * D + j]) > bestAbs + 1e-12 { best = j; bestAbs = abs(v[src * D + j]) }
            let sign: Double = v[src * D + best] < 0 ? -1 : 1
            for j in 0..<D { vectors[k * D + j] = sign * v[src * D + j] }
        }
        return (values, vectors)
    }

    /// The PCA basis of an accumulator's rows.
    public static func basis(_ acc: CovarianceAccumulator, patchSize: Int, channels: Int, indexSHA256: String) throws -> PCABasis {
        guard acc.count >= 2 else {
            throw LdaeError("need at least 2 patches to fit a PCA, got \(acc.count)")
        }
        let D = acc.dim
        let (values, vectors) = try eigen(covariance: acc.covariance(), dim: D)
        return PCABasis(mean: acc.mean.map { Float($0) }, components: vectors.map { Float($0) },
                        eigenvalues: values.map { Float($0) }, patchSize: patchSize, channels: channels,
                        sampleCount: acc.count, indexSHA256: indexSHA256)
    }
}
