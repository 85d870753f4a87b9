import Foundation

/// A patch PCA basis (`pca.h5`, read and written by Formats/PCAFile.swift): mean [D], components [D, D] (rows, by descending variance),
/// eigenvalues [D], all in the pixel scaling `PixelScaling.name`.
public struct PCABasis: Sendable {
    public var mean: [Float]
    public var components: [Float]
    public var eigenvalues: [Float]
    public var patchSize: Int
    public var channels: Int
    public var sampleCount: Int
    public var indexSHA256: String
    public var pixelScaling: String = PixelScaling.name
    /// What the fit was made from (`PCAResumeState.identity`: index sha256, sizes, subsample, seed); attribute
    /// `fit_identity`, absent in files written before it was recorded. `ldae-fit-pca --resume` on a finished
    /// output of the same identity does nothing.
    public var fitIdentity: String? = nil

    public init(mean: [Float], components: [Float], eigenvalues: [Float], patchSize: Int, channels: Int,
                sampleCount: Int, indexSHA256: String) {
        self.mean = mean; self.components = components; self.eigenvalues = eigenvalues
        self.patchSize = patchSize; self.channels = channels; self.sampleCount = sampleCount; self.indexSHA256 = indexSHA256
    }

    public var dim: Int { mean.count }

    public var explainedVarianceRatio: [Float] {
        let total = eigenvalues.reduce(0, +)
        return eigenvalues.map { total > 0 ? $0 / total : 0 }
    }

    /// Cumulative explained variance with the top d components.
    public func cumulativeExplained(_ d: Int) -> Double {
        let total = eigenvalues.reduce(0.0) { $0 + Double($1) }
        return total > 0 ? eigenvalues.prefix(d).reduce(0.0) { $0 + Double($1) } / total : 0
    }

    /// Latent of the top d components: z[n, d] = (x[n, D] - mean) V_d^T.
    public func project(_ x: [Float], count n: Int, d: Int) -> [Float] {
        let D = dim
        require(x.count == n * D && d <= D)
        var c = x
        for i in 0..<n { for j in 0..<D { c[i * D + j] -= mean[j] } }
        var z = [Float](repeating: 0, count: n * d)
        if n == 0 || d == 0 { return z }
        c.withUnsafeBufferPointer { cp in components.withUnsafeBufferPointer { vp in z.withUnsafeMutableBufferPointer { zp in
            BLAS.sgemm(transA: false, transB: true, m: n, n: d, k: D, alpha: 1, a: cp.baseAddress!, lda: D,
                       b: vp.baseAddress!, ldb: D, beta: 0, c: zp.baseAddress!, ldc: d)
        } } }
        return z
    }

    /// Pixels from a top-d latent: x[n, D] = mean + z[n, d] V_d.
    public func reconstruct(_ z: [Float], count n: Int, d: Int) -> [Float] {
        let D = dim
        require(z.count == n * d && d <= D)
        var x = [Float](repeating: 0, count: n * D)
        for i in 0..<n { for j in 0..<D { x[i * D + j] = mean[j] } }
        if n == 0 || d == 0 { return x }
        z.withUnsafeBufferPointer { zp in components.withUnsafeBufferPointer { vp in x.withUnsafeMutableBufferPointer { xp in
            BLAS.sgemm(transA: false, transB: false, m: n, n: D, k: d, alpha: 1, a: zp.baseAddress!, lda: d,
                       b: vp.baseAddress!, ldb: D, beta: 1, c: xp.baseAddress!, ldc: D)
        } } }
        return x
    }

    /// Splits a vector of full PCA coordinates into its principal (first d) and residual parts.
    public func split(_ coords: [Float], d: Int) -> (principal: ArraySlice<Float>, residual: ArraySlice<Float>) {
        (coords[0..<d], coords[d...])
    }
}
