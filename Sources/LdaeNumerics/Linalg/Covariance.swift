import Foundation

/// Streaming mean and covariance of D-dimensional rows in float64, one block at a time (memory O(D^2),
/// independent of the number of rows). Gram matrices are accumulated with BLAS on blocks.
///
/// Two inputs:
/// - float rows (`add(_:rows:)`, `add(floats:rows:)`): shifted by a fixed reference vector c (the first
///   block's mean) and accumulated with `dsyrk` in float64, so that sum((x - c)(x - c)^T) - n (m - c)(m - c)^T
///   does not cancel catastrophically when the mean is large relative to the spread;
/// - uint8 patches (`add(bytes:rows:)`), in the pixel scaling x/127.5 - 1: accumulated *exactly*. A block
///   of up to 1024 rows of (v - 128), v in 0...255, has integer products |.| <= 16384 and partial sums
///   <= 2^24, so `ssyrk` in float32 computes its Gram matrix without any rounding; the block results are
///   summed in float64 (exact integers below 2^53) and scaled by 1/127.5^2 once, at the end.
///   `addBytesReference` is the plain float64 path (lookup table + dsyrk) kept beside it as reference.
public struct CovarianceAccumulator: Sendable {
    /// count, shift c, sum of (x - c) [D], upper triangle of sum of (x - c)(x - c)^T [D, D].
    package struct Moments: Sendable {
        package var count = 0
        package var shift: [Double]?
        package var sum: [Double]
        package var gram: [Double]
        init(dim: Int) { sum = [Double](repeating: 0, count: dim); gram = [Double](repeating: 0, count: dim * dim) }
    }

    public let dim: Int
    /// Float rows (and the reference byte path).
    package var moments: Moments
    /// Exact integer moments of uint8 rows minus 128 (shift 128 in byte units).
    package var byteCount = 0
    package var byteSum: [Double]
    package var byteGram: [Double]
    /// Shifted pixel lookup for the reference path, lut[j * 256 + v] = PixelScaling.table[v] - c[j].
    private var lut: [Double] = []

    /// Rows per exact float32 block of bytes (see above).
    public static let byteBlockRows = 1024

    public init(dim: Int) {
        require(dim > 0)
        self.dim = dim
        moments = Moments(dim: dim)
        byteSum = [Double](repeating: 0, count: dim)
        byteGram = [Double](repeating: 0, count: dim * dim)
    }

    public var count: Int { moments.count + byteCount }

    /// Adds `n` rows of `block` [n, D] (float64, row-major). The block is overwritten (shifted in place).
    public mutating func add(_ block: UnsafeMutablePointer<Double>, rows n: Int) {
        let D = dim
        if n == 0 { return }
        if moments.shift == nil {
            var c = [Double](repeating: 0, count: D)
            for i in 0..<n { for j in 0..<D { c[j] += block[i * D + j] } }
            for j in 0..<D { c[j] /= Double(n) }
            moments.shift = c
        }
        let c = moments.shift!
        moments.sum.withUnsafeMutableBufferPointer { s in
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
        require(x.count == n * dim)
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

    /// Adds `n` uint8 rows [n, D] in the pixel scaling x/127.5 - 1, exactly (float32 `ssyrk` on integer
    /// blocks of `byteBlockRows`, summed in float64). `scratch` holds at least byteBlockRows * D + D * D floats.
    public mutating func add(bytes x: UnsafePointer<UInt8>, rows n: Int, scratch: UnsafeMutablePointer<Float>) {
        let D = dim
        let block = scratch, g = scratch + CovarianceAccumulator.byteBlockRows * D
        var r = 0
        while r < n {
            let m = min(CovarianceAccumulator.byteBlockRows, n - r)
            // block [m, D] = v - 128 (exact), column sums as integers.
            byteSum.withUnsafeMutableBufferPointer { s in
                var colSum = [Int](repeating: 0, count: D)
                colSum.withUnsafeMutableBufferPointer { cs in
                    for i in 0..<m {
                        let src = x + (r + i) * D, dst = block + i * D
                        for j in 0..<D { let v = Int(src[j]) &- 128; dst[j] = Float(v); cs[j] &+= v }
                    }
                }
                for j in 0..<D { s[j] += Double(colSum[j]) }
            }
            // g [D, D] (upper) = block^T block, exact in float32; then summed in float64.
            BLAS.ssyrkAtA(n: D, k: m, alpha: 1, a: block, lda: D, beta: 0, c: g, ldc: D)
            byteGram.withUnsafeMutableBufferPointer { bg in
                for i in 0..<D { for j in i..<D { bg[i * D + j] += Double(g[i * D + j]) } }
            }
            byteCount += m
            r += m
        }
    }

    /// Scratch floats needed by `add(bytes:rows:scratch:)`.
    public static func byteScratchCount(dim: Int) -> Int { byteBlockRows * dim + dim * dim }

    /// Reference for `add(bytes:)`: converts with `PixelScaling.table` into float64 `scratch` (n * D doubles),
    /// shifts and accumulates with dsyrk.
    public mutating func addBytesReference(_ x: UnsafePointer<UInt8>, rows n: Int, scratch: UnsafeMutablePointer<Double>) {
        let D = dim
        if n == 0 { return }
        if moments.shift == nil {
            var c = [Double](repeating: 0, count: D)
            for i in 0..<n { for j in 0..<D { c[j] += Double(PixelScaling.table[Int(x[i * D + j])]) } }
            for j in 0..<D { c[j] /= Double(n) }
            moments.shift = c
        }
        if lut.isEmpty {
            let c = moments.shift!
            lut = [Double](repeating: 0, count: D * 256)
            for j in 0..<D { for v in 0..<256 { lut[j * 256 + v] = Double(PixelScaling.table[v]) - c[j] } }
        }
        let l = lut
        moments.sum.withUnsafeMutableBufferPointer { s in
            l.withUnsafeBufferPointer { l in
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
        moments.gram.withUnsafeMutableBufferPointer { g in
            BLAS.dsyrkAtA(n: D, k: n, alpha: 1, a: block, lda: D, beta: 1, c: g.baseAddress!, ldc: D)
        }
        moments.count += n
    }

    /// `b` re-expressed around `a`'s shift and added to `a`: y = x - c_a = (x - c_b) + d, d = c_b - c_a.
    static func combine(_ a: Moments, _ b: Moments) -> Moments {
        guard b.count > 0 else { return a }
        guard a.count > 0, let ca = a.shift else { return b }
        let D = ca.count
        let d = (0..<D).map { b.shift![$0] - ca[$0] }
        let n = Double(b.count)
        var out = a
        for i in 0..<D {
            out.sum[i] += b.sum[i] + n * d[i]
            for j in i..<D {
                out.gram[i * D + j] += b.gram[i * D + j] + d[i] * b.sum[j] + b.sum[i] * d[j] + n * d[i] * d[j]
            }
        }
        out.count += b.count
        return out
    }

    /// All rows' moments: the float moments combined with the byte moments in the pixel scaling
    /// (x/127.5 - 1 - c = (v - 128)/127.5 with c = 128/127.5 - 1).
    var totals: Moments {
        guard byteCount > 0 else { return moments }
        var b = Moments(dim: dim)
        b.count = byteCount
        b.shift = [Double](repeating: 128 / 127.5 - 1, count: dim)
        b.sum = byteSum.map { $0 / 127.5 }
        b.gram = byteGram.map { $0 / (127.5 * 127.5) }
        return CovarianceAccumulator.combine(b, moments)
    }

    /// Combines another accumulator (e.g. one per worker thread) into this one.
    public mutating func merge(_ o: CovarianceAccumulator) {
        require(o.dim == dim)
        moments = CovarianceAccumulator.combine(moments, o.moments)
        byteCount += o.byteCount
        for j in 0..<dim { byteSum[j] += o.byteSum[j] }
        for k in 0..<(dim * dim) { byteGram[k] += o.byteGram[k] }
    }

    /// Mean of all rows [D].
    public var mean: [Double] {
        let t = totals
        guard let c = t.shift, t.count > 0 else { return [Double](repeating: 0, count: dim) }
        return (0..<dim).map { c[$0] + t.sum[$0] / Double(t.count) }
    }

    /// Sample covariance [D, D] (full symmetric, denominator n - 1 as numpy.cov and scikit-learn's PCA).
    public func covariance() -> [Double] {
        let D = dim
        let t = totals
        var cov = [Double](repeating: 0, count: D * D)
        guard t.count > 1 else { return cov }
        let n = Double(t.count)
        let m = t.sum.map { $0 / n }   // mean of shifted rows
        for i in 0..<D {
            for j in i..<D {
                let v = (t.gram[i * D + j] - n * m[i] * m[j]) / (n - 1)
                cov[i * D + j] = v; cov[j * D + i] = v
            }
        }
        return cov
    }

    /// Rows per float64 block so that a block is about 8 MB (at least 256 rows).
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
