import Foundation
import XCTest
@testable import Ldae

/// Naive reference for the PCA tests: per-row loops for mean and covariance, cyclic Jacobi for the
/// eigendecomposition (no BLAS, no LAPACK).
enum NaivePCA {
    /// Mean [D] and covariance [D, D] (denominator n - 1) of rows [n, D].
    static func meanCov(_ x: [Double], n: Int, D: Int) -> ([Double], [Double]) {
        var m = [Double](repeating: 0, count: D)
        for i in 0..<n { for j in 0..<D { m[j] += x[i * D + j] } }
        for j in 0..<D { m[j] /= Double(n) }
        var c = [Double](repeating: 0, count: D * D)
        for i in 0..<n {
            for a in 0..<D {
                let da = x[i * D + a] - m[a]
                for b in a..<D { c[a * D + b] += da * (x[i * D + b] - m[b]) }
            }
        }
        for a in 0..<D { for b in a..<D { c[a * D + b] /= Double(n - 1); c[b * D + a] = c[a * D + b] } }
        return (m, c)
    }

    /// Cyclic Jacobi: eigenvalues descending and eigenvectors as rows, sign: largest |entry| positive.
    static func jacobi(_ a0: [Double], D: Int) -> ([Double], [Double]) {
        var a = a0
        var v = [Double](repeating: 0, count: D * D)
        for i in 0..<D { v[i * D + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<D { for q in (p + 1)..<D { off += a[p * D + q] * a[p * D + q] } }
            if off < 1e-30 { break }
            for p in 0..<D {
                for q in (p + 1)..<D where abs(a[p * D + q]) > 1e-300 {
                    let theta = (a[q * D + q] - a[p * D + p]) / (2 * a[p * D + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<D {   // columns p, q of A
                        let akp = a[k * D + p], akq = a[k * D + q]
                        a[k * D + p] = c * akp - s * akq; a[k * D + q] = s * akp + c * akq
                    }
                    for k in 0..<D {   // rows p, q of A
                        let apk = a[p * D + k], aqk = a[q * D + k]
                        a[p * D + k] = c * apk - s * aqk; a[q * D + k] = s * apk + c * aqk
                    }
                    for k in 0..<D {   // columns p, q of V (eigenvectors as columns)
                        let vkp = v[k * D + p], vkq = v[k * D + q]
                        v[k * D + p] = c * vkp - s * vkq; v[k * D + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<D).sorted { a[$0 * D + $0] > a[$1 * D + $1] }
        var values = [Double](), rows = [Double]()
        for k in order {
            values.append(a[k * D + k])
            var col = (0..<D).map { v[$0 * D + k] }
            let big = col.indices.max { abs(col[$0]) < abs(col[$1]) }!
            if col[big] < 0 { col = col.map { -$0 } }
            rows += col
        }
        return (values, rows)
    }
}

final class PCATests: XCTestCase {
    /// A random orthonormal D x D matrix (rows), by Gram-Schmidt on Gaussian rows.
    static func orthonormal(_ D: Int, rng: inout RNG) -> [Double] {
        var q = [Double](repeating: 0, count: D * D)
        for i in 0..<D {
            var r = (0..<D).map { _ in rng.normal() }
            for _ in 0..<2 {
                for k in 0..<i {
                    var dot = 0.0
                    for j in 0..<D { dot += r[j] * q[k * D + j] }
                    for j in 0..<D { r[j] -= dot * q[k * D + j] }
                }
            }
            let nrm = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<D { q[i * D + j] = r[j] / nrm }
        }
        return q
    }

    /// Rows x = mean + sum_k sqrt(lambda_k) h_k a_k with h_k = ±1 columns of a Sylvester Hadamard matrix
    /// (orthogonal, zero mean): the sample covariance is exactly A^T diag(lambda) A.
    static func knownCovarianceRows(n: Int, D: Int, lambda: [Double], mean: [Double], A: [Double]) -> [Double] {
        precondition(n.nonzeroBitCount == 1 && n > D)
        var x = [Double](repeating: 0, count: n * D)
        let scale = (Double(n - 1) / Double(n)).squareRoot()
        for i in 0..<n {
            for j in 0..<D { x[i * D + j] = mean[j] }
            for k in 0..<D {
                let h: Double = ((i & (k + 1)).nonzeroBitCount % 2 == 0) ? 1 : -1
                let g = scale * lambda[k].squareRoot() * h
                for j in 0..<D { x[i * D + j] += g * A[k * D + j] }
            }
        }
        return x
    }

    func testKnownCovarianceRecoveredExactlyWithLargeMean() throws {
        let D = 48, n = 1024
        var rng = RNG(seed: 11)
        let A = Self.orthonormal(D, rng: &rng)
        let lambda = (0..<D).map { 0.2 / Double($0 + 1) }          // distinct, 0.2 ... 0.004
        let mean = (0..<D).map { _ in 50 + rng.uniform() }          // far from 0: exercises the shift
        var x = Self.knownCovarianceRows(n: n, D: D, lambda: lambda, mean: mean, A: A)
        let xCopy = x
        // Three blocks of uneven size.
        var acc = CovarianceAccumulator(dim: D)
        x.withUnsafeMutableBufferPointer { p in
            acc.add(p.baseAddress!, rows: 100)
            acc.add(p.baseAddress! + 100 * D, rows: 500)
            acc.add(p.baseAddress! + 600 * D, rows: n - 600)
        }
        XCTAssertEqual(acc.count, n)
        for j in 0..<D { XCTAssertEqual(acc.mean[j], mean[j], accuracy: 1e-9) }
        let b = try PCAFit.basis(acc, patchSize: 4, channels: 3, indexSHA256: "x")
        let (values, vectors) = try PCAFit.eigen(covariance: acc.covariance(), dim: D)
        for k in 0..<D {
            XCTAssertEqual(values[k], lambda[k], accuracy: 1e-4 * lambda[k], "eigenvalue \(k)")
            XCTAssertEqual(Double(b.eigenvalues[k]), lambda[k], accuracy: 1e-4 * lambda[k])
            var dot = 0.0
            for j in 0..<D { dot += vectors[k * D + j] * A[k * D + j] }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-8, "component \(k) is not the planted direction")
        }
        // Same result as the naive reference on the same rows.
        let (_, c) = NaivePCA.meanCov(xCopy, n: n, D: D)
        let (jv, jr) = NaivePCA.jacobi(c, D: D)
        for k in 0..<D {
            XCTAssertEqual(values[k], jv[k], accuracy: 1e-9)
            for j in 0..<D { XCTAssertEqual(vectors[k * D + j], jr[k * D + j], accuracy: 1e-6) }
        }
    }

    func testBasisIsOrthonormalSortedAndSignFixed() throws {
        let D = 27
        var rng = RNG(seed: 5)
        let x = (0..<(500 * D)).map { _ in Float(rng.normal() * 0.3) }
        var acc = CovarianceAccumulator(dim: D)
        acc.add(floats: x, rows: 500)
        let b = try PCAFit.basis(acc, patchSize: 3, channels: 3, indexSHA256: "")
        for i in 0..<D {
            for j in 0..<D {
                var dot = 0.0
                for k in 0..<D { dot += Double(b.components[i * D + k]) * Double(b.components[j * D + k]) }
                XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5)
            }
            let row = b.components[(i * D)..<((i + 1) * D)]
            XCTAssertGreaterThan(row.max()!, -row.min()!, "component \(i): largest-magnitude entry must be positive")
            if i > 0 { XCTAssertGreaterThanOrEqual(b.eigenvalues[i - 1], b.eigenvalues[i]) }
            XCTAssertGreaterThanOrEqual(b.eigenvalues[i], 0)
        }
        // Same data, negated deviations: the covariance is the same, so the same basis (sign convention).
        var acc2 = CovarianceAccumulator(dim: D)
        acc2.add(floats: x.map { -$0 }, rows: 500)
        let b2 = try PCAFit.basis(acc2, patchSize: 3, channels: 3, indexSHA256: "")
        for k in 0..<(D * D) { XCTAssertEqual(b.components[k], b2.components[k], accuracy: 1e-4) }
    }

    func testMergeMatchesOneStream() {
        let D = 10
        var rng = RNG(seed: 9)
        let x = (0..<(300 * D)).map { j in Float(rng.normal() + Double(j % D)) }
        var whole = CovarianceAccumulator(dim: D); whole.add(floats: x, rows: 300)
        var a = CovarianceAccumulator(dim: D); a.add(floats: Array(x[0..<(120 * D)]), rows: 120)
        var b = CovarianceAccumulator(dim: D); b.add(floats: Array(x[(120 * D)...]).map { $0 }, rows: 180)
        a.merge(b)
        var empty = CovarianceAccumulator(dim: D); empty.merge(a)
        XCTAssertEqual(a.count, 300); XCTAssertEqual(empty.count, 300)
        let cw = whole.covariance(), ca = a.covariance(), ce = empty.covariance()
        for k in 0..<(D * D) { XCTAssertEqual(ca[k], cw[k], accuracy: 1e-10); XCTAssertEqual(ce[k], cw[k], accuracy: 1e-10) }
        for j in 0..<D { XCTAssertEqual(a.mean[j], whole.mean[j], accuracy: 1e-10) }
    }

    func testExactBytePathMatchesFloat64Reference() {
        let D = 48, n = 3000
        var rng = RNG(seed: 13)
        var x = (0..<(n * D)).map { _ in UInt8(rng.below(256)) }
        // Extremes: a whole 1024-row block of 0 (sums reach -128 * -128 * 1024 = 2^24) and of 255.
        for k in 0..<(1024 * D) { x[k] = 0 }
        for k in (1024 * D)..<(1500 * D) { x[k] = 255 }
        var fast = CovarianceAccumulator(dim: D), ref = CovarianceAccumulator(dim: D)
        let fs = UnsafeMutablePointer<Float>.allocate(capacity: CovarianceAccumulator.byteScratchCount(dim: D))
        let ds = UnsafeMutablePointer<Double>.allocate(capacity: n * D)
        defer { fs.deallocate(); ds.deallocate() }
        x.withUnsafeBufferPointer { p in
            fast.add(bytes: p.baseAddress!, rows: 1700, scratch: fs)
            fast.add(bytes: p.baseAddress! + 1700 * D, rows: n - 1700, scratch: fs)
            ref.addBytesReference(p.baseAddress!, rows: 999, scratch: ds)
            ref.addBytesReference(p.baseAddress! + 999 * D, rows: n - 999, scratch: ds)
        }
        XCTAssertEqual(fast.count, n); XCTAssertEqual(ref.count, n)
        let cf = fast.covariance(), cr = ref.covariance()
        let scale = cr.map { abs($0) }.max()!
        for k in 0..<(D * D) { XCTAssertEqual(cf[k], cr[k], accuracy: 1e-6 * scale) }   // table is float32-rounded
        let mf = fast.mean, mr = ref.mean
        for j in 0..<D { XCTAssertEqual(mf[j], mr[j], accuracy: 1e-6) }
        // Exact: the byte path equals the naive covariance computed with exact x/127.5 - 1 in float64.
        let rows = x.map { Double($0) / 127.5 - 1 }
        let (m, c) = NaivePCA.meanCov(rows, n: n, D: D)
        for k in 0..<(D * D) { XCTAssertEqual(cf[k], c[k], accuracy: 1e-12 * scale) }
        for j in 0..<D { XCTAssertEqual(mf[j], m[j], accuracy: 1e-12) }
        // Mixed: bytes merged with float rows of the same data give the same moments.
        var half = CovarianceAccumulator(dim: D)
        x.withUnsafeBufferPointer { half.add(bytes: $0.baseAddress!, rows: 1000, scratch: fs) }
        var other = CovarianceAccumulator(dim: D)
        other.add(floats: rows[(1000 * D)...].map { Float($0) }, rows: n - 1000)
        half.merge(other)
        let ch = half.covariance()
        for k in 0..<(D * D) { XCTAssertEqual(ch[k], c[k], accuracy: 1e-6 * scale) }
    }

    func testProjectReconstructRoundTripAndSplit() throws {
        let D = 48
        var rng = RNG(seed: 2)
        let x = (0..<(64 * D)).map { _ in Float(rng.normal() * 0.4 + 0.1) }
        var acc = CovarianceAccumulator(dim: D); acc.add(floats: x, rows: 64)
        let b = try PCAFit.basis(acc, patchSize: 4, channels: 3, indexSHA256: "")
        let z = b.project(x, count: 64, d: D)
        let xr = b.reconstruct(z, count: 64, d: D)
        for k in 0..<x.count { XCTAssertEqual(xr[k], x[k], accuracy: 1e-4) }
        // The top-d latent is the first d full coordinates; split gives principal and residual parts.
        let z8 = b.project(x, count: 64, d: 8)
        for i in 0..<64 {
            let row = Array(z[(i * D)..<((i + 1) * D)])
            let (p, r) = b.split(row, d: 8)
            XCTAssertEqual(p.count, 8); XCTAssertEqual(r.count, D - 8)
            for k in 0..<8 { XCTAssertEqual(p[p.startIndex + k], z8[i * 8 + k], accuracy: 1e-5) }
        }
        // Reconstruction error with d components = the variance left in the discarded components (on average).
        let xr8 = b.reconstruct(z8, count: 64, d: 8)
        var err = 0.0
        for k in 0..<x.count { err += Double((xr8[k] - x[k]) * (xr8[k] - x[k])) }
        let residual = b.eigenvalues[8...].reduce(0.0) { $0 + Double($1) } * 63 / 64
        XCTAssertEqual(err / 64, residual, accuracy: 1e-3 * residual)
    }

    // MARK: through shards

    /// Images whose patches are x = A^T g quantised, g ~ N(0, diag(lambda)), in the pixel scaling.
    static func syntheticImages(count: Int, geometry g: PatchGeometry, lambda: [Double], A: [Double], rng: inout RNG) -> [[UInt8]] {
        let D = g.tokenDim
        return (0..<count).map { _ in
            var patches = [UInt8](repeating: 0, count: g.valuesPerImage)
            for t in 0..<g.tokens {
                let gk = lambda.map { $0.squareRoot() * rng.normal() }
                for j in 0..<D {
                    var v = 0.0
                    for k in 0..<D { v += gk[k] * A[k * D + j] }
                    patches[t * D + j] = PixelScaling.toByte(Float(v))
                }
            }
            return g.unpatchify(patches)
        }
    }

    /// Every patch of a shard set in global order as pixel-scaled float64 rows, by the plain reader.
    static func allRows(_ set: ShardSet) throws -> [Double] {
        var rows: [Double] = []
        try set.forEachBatch(7) { _, p, _ in rows += p.map { Double(PixelScaling.table[Int($0)]) } }
        return rows
    }

    func testShardFitMatchesNaiveReferenceAndKnownCovariance() throws {
        let dir = TestSupport.tempDir()
        let g = PatchGeometry(imageSize: 16, patchSize: 4)
        let D = g.tokenDim
        var rng = RNG(seed: 21)
        let A = Self.orthonormal(D, rng: &rng)
        let lambda = (0..<D).map { 0.04 * pow(0.8, Double($0)) }
        let images = Self.syntheticImages(count: 150, geometry: g, lambda: lambda, A: A, rng: &rng)
        let set = try TestSupport.makeShards(dir: dir, images: images, labels: [Int32](repeating: -1, count: 150),
                                             imageSize: 16, patchSize: 4, perShard: 40)
        XCTAssertEqual(set.shards.count, 4)
        let b = try PCAStream.fit(set)
        let n = 150 * g.tokens
        XCTAssertEqual(b.sampleCount, n)
        XCTAssertEqual(b.indexSHA256, set.indexSHA256)
        XCTAssertEqual(b.patchSize, 4); XCTAssertEqual(b.channels, 3)

        // Exact agreement with the naive reference on the same (quantised) data.
        let rows = try Self.allRows(set)
        let (m, c) = NaivePCA.meanCov(rows, n: n, D: D)
        let (jv, jr) = NaivePCA.jacobi(c, D: D)
        for j in 0..<D { XCTAssertEqual(Double(b.mean[j]), m[j], accuracy: 1e-6) }
        for k in 0..<D { XCTAssertEqual(Double(b.eigenvalues[k]), jv[k], accuracy: 1e-6 * jv[0] + 1e-6 * jv[k]) }
        for k in 0..<12 {   // well-separated leading components: same vectors, same signs
            for j in 0..<D { XCTAssertEqual(Double(b.components[k * D + j]), jr[k * D + j], accuracy: 1e-4) }
        }
        // The planted covariance, up to sampling noise (2400 patches) and quantisation.
        for k in 0..<8 { XCTAssertEqual(Double(b.eigenvalues[k]), lambda[k], accuracy: 0.15 * lambda[k], "eigenvalue \(k)") }
    }

    // MARK: file format

}
