import Foundation

/// A linear patch tokenizer as the objective uses it (pca, patch-ae, patch-vae): per patch, D values in, d out.
///
///   z  = (x - meanIn) E^T + encoderBias      E = encoder [d, D] (rows)          z [N, d]
///   x' = meanOut + z Dec                      Dec = decoder [d, D] (rows = the decoder's columns)
///
/// The loss basis [D, D] is orthonormal, its first d rows spanning the decoder's rows (the tokenizer's image), the
/// others its complement (the residual): the objective weighs the error's first part by 1 and the residual by
/// `residual_weight`. Only the span matters (the residual weight is the same for every residual component), so any
/// orthonormal completion gives the same loss. For pca: E = Dec = V_d, meanIn = meanOut, and the basis is V itself.
public struct LinearCodec: Sendable {
    public let dim: Int
    public let latentDim: Int
    public let encoder: [Float]
    public let encoderBias: [Float]?
    public let decoder: [Float]
    public let meanIn: [Float]
    public let meanOut: [Float]
    public let lossBasis: [Float]
    /// Variance of each latent component over the data [d] (pca: the eigenvalues), for `--latent-scale`.
    public let latentVariance: [Float]

    /// The top d components of a PCA basis.
    public init(pca: PCABasis, d: Int) {
        let D = pca.dim
        require(d >= 1 && d <= D)
        dim = D; latentDim = d
        encoder = Array(pca.components[0..<(d * D)]); decoder = encoder; encoderBias = nil
        meanIn = pca.mean; meanOut = pca.mean
        lossBasis = pca.components
        latentVariance = Array(pca.eigenvalues.prefix(d))
    }

    /// A learned linear tokenizer; the loss basis is built from the decoder's rows (Gram-Schmidt in Double, then the
    /// unit vectors e_1..e_D orthogonalised against what is there, in order, until D rows).
    public init(encoder: [Float], encoderBias: [Float]?, decoder: [Float], meanIn: [Float], meanOut: [Float],
                latentVariance: [Float]) throws {
        let D = meanIn.count, d = latentVariance.count
        guard d >= 1, d <= D, encoder.count == d * D, decoder.count == d * D, meanOut.count == D,
              encoderBias.map({ $0.count == d }) ?? true else {
            throw LdaeError("linear tokenizer shapes disagree: encoder \(encoder.count), decoder \(decoder.count), mean \(D), d \(d)")
        }
        dim = D; latentDim = d
        self.encoder = encoder; self.encoderBias = encoderBias; self.decoder = decoder
        self.meanIn = meanIn; self.meanOut = meanOut; self.latentVariance = latentVariance
        guard let basis = LinearCodec.completedBasis(rows: decoder, count: d, dim: D) else {
            throw LdaeError("the tokenizer's decoder has rank below d = \(d) (two latent directions decode to the same patches)")
        }
        lossBasis = basis
    }

    /// Orthonormal [D, D] whose first `count` rows span `rows` [count, D]; nil when those are (nearly) dependent.
    public static func completedBasis(rows: [Float], count d: Int, dim D: Int) -> [Float]? {
        var q: [[Double]] = []
        func orthogonalise(_ v: [Double]) -> [Double] {
            var v = v
            for _ in 0..<2 {   // twice: modified Gram-Schmidt's re-orthogonalisation
                for u in q {
                    var dot = 0.0
                    for j in 0..<D { dot += u[j] * v[j] }
                    for j in 0..<D { v[j] -= dot * u[j] }
                }
            }
            return v
        }
        for i in 0..<d {
            let v0 = (0..<D).map { Double(rows[i * D + $0]) }
            let n0 = v0.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let v = orthogonalise(v0)
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard n0 > 0, n > 1e-6 * n0 else { return nil }
            q.append(v.map { $0 / n })
        }
        for j in 0..<D where q.count < D {
            var e = [Double](repeating: 0, count: D); e[j] = 1
            let v = orthogonalise(e)
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if n > 1e-3 { q.append(v.map { $0 / n }) }
        }
        guard q.count == D else { return nil }
        return q.flatMap { $0.map(Float.init) }
    }

    /// z [n, d] of patches x [n, D].
    public func encode(_ x: UnsafePointer<Float>, count n: Int, into z: UnsafeMutablePointer<Float>) {
        let D = dim, d = latentDim
        if n == 0 { return }
        var c = [Float](repeating: 0, count: n * D)
        for i in 0..<n { for j in 0..<D { c[i * D + j] = x[i * D + j] - meanIn[j] } }
        encoder.withUnsafeBufferPointer { E in
            BLAS.sgemm(transA: false, transB: true, m: n, n: d, k: D, alpha: 1, a: c, lda: D, b: E.baseAddress!, ldb: D,
                       beta: 0, c: z, ldc: d)
        }
        if let bias = encoderBias { for i in 0..<n { for k in 0..<d { z[i * d + k] += bias[k] } } }
    }

    /// x [n, D] = meanOut + z Dec.
    public func decode(_ z: UnsafePointer<Float>, count n: Int, into x: UnsafeMutablePointer<Float>) {
        let D = dim, d = latentDim
        for i in 0..<n { for j in 0..<D { x[i * D + j] = meanOut[j] } }
        if n == 0 { return }
        decoder.withUnsafeBufferPointer { V in
            BLAS.sgemm(transA: false, transB: false, m: n, n: D, k: d, alpha: 1, a: z, lda: d, b: V.baseAddress!, ldb: D,
                       beta: 1, c: x, ldc: D)
        }
    }
}
